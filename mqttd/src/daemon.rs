//! The daemon's life, in two halves with the sandbox between them.
//!
//! [`prepare`] runs while the process has one thread: it reads the config,
//! the password and the CA, and resolves the broker's name. [`run`] then
//! (after the sandbox) builds a current-thread tokio runtime and runs one
//! loop that owns both links; ledd is connected to from there, as mqttd's
//! own user (as root, ledd would give the connection the admin role):
//!
//! - its link to ledd subscribes: ledd pushes each change of what plays or
//!   the brightness, whichever client made it, and mqttd publishes the
//!   state (retained) at once; every `limits.status_interval` (15 s) it
//!   also reads ledd's whole status;
//! - every `[sensors] interval_secs` it reads ledd's status for the
//!   diagnostic sensors ([`crate::sensors`]) and publishes each value that
//!   changed (a request of its own, apart from the state's);
//! - each command from the broker passes the token bucket
//!   (`limits.commands_per_second`; excess dropped, logged at most every
//!   few seconds), is parsed ([`crate::command`]) and becomes at most one
//!   ledd request;
//! - a lost broker is retried with a capped exponential backoff, cycling
//!   through the resolved addresses; each distinct cause is logged once,
//!   with the fix;
//! - availability is `online` while both the broker and ledd are
//!   connected; the broker publishes the retained last will `offline` if
//!   mqttd dies, and mqttd publishes it itself when it stops or loses ledd.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, Incoming, Outgoing, QoS};
use tinsel_client::{LeddError, Link, Peer};
use tinsel_daemon::log::{Gate, held_note};
use tinsel_daemon::rate::TokenBucket;
use tinsel_daemon::signals::{Signal, Signals};
use tinsel_proto::{Animation, Playing, Request, Response};
use tokio::time::{Instant, MissedTickBehavior, sleep_until};

use crate::broker;
use crate::causes::Causes;
use crate::command::{self, Refused, View};
use crate::config::{Config, ConfigError};
use crate::pace::Pace;
use crate::publish::{self, OFFLINE, ONLINE};
use crate::sensors;
use tinsel_daemon::exit::Exit;

/// mqttd, as ledd's refusals name it: run as `tinsel-mqtt` by the package.
pub const LEDD_PEER: Peer = Peer::daemon("mqttd", "tinsel-mqtt");

/// The first retry after the broker connection fails.
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between attempts: a broker that comes back is found
/// within this, and a wrong password costs the broker one attempt per 30 s.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Requests queued for the MQTT event loop.
const CHANNEL: usize = 64;
/// How often a repeated log line (a flood, bad commands) may be written.
const LOG_EVERY: Duration = Duration::from_secs(5);
/// How long a broker connection must hold before its end is news: a
/// shorter one (a broker that drops mqttd right after the handshake, for a
/// message too big at every subscribe) neither resets the backoff nor
/// logs a cause of the same outage again.
const STABLE: Duration = Duration::from_secs(10);
/// The discovery config is published again at most this often when Home
/// Assistant says `online` (a flood of them costs one republication per
/// interval, and the last is never lost).
const REDISCOVER_EVERY: Duration = Duration::from_secs(1);
/// How long a clean stop waits for `offline` to reach the broker.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Why mqttd could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config file (or a file it names) is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The broker's name does not resolve (DNS not up yet?): systemd
    /// restarts mqttd, unlike a config error.
    #[error("{0}")]
    Resolve(String),
    /// The config path cannot be made absolute.
    #[error("{}: {source}", path.display())]
    ConfigPath {
        /// The path given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Everything mqttd needs, obtained before any thread exists.
#[derive(Debug)]
pub struct Prepared {
    /// The validated config; `config.path` is absolute.
    pub config: Config,
    /// The broker password, read from its file or credential.
    pub password: Option<String>,
    /// The TLS client configuration, with TLS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The broker's addresses.
    pub addrs: Vec<SocketAddr>,
}

/// Reads every file and resolves the broker. Must run before any thread
/// starts. ledd is connected to only after the sandbox: a connection made
/// as root would carry ledd's admin role into the dropped process.
pub fn prepare(config_path: &Path) -> Result<Prepared, StartError> {
    let path = std::path::absolute(config_path).map_err(|source| StartError::ConfigPath {
        path: config_path.to_owned(),
        source,
    })?;
    let config = Config::load(&path)?;
    // The identity rule (`tinsel_daemon::config::start_identity`), as
    // `--check-config` applies it: the sandbox drops to this user later.
    config.common.start_identity()?;
    let password = config.read_password()?;
    let tls = broker::tls(&config)?;
    let addrs = broker::resolve(&config).map_err(|e| StartError::Resolve(e.to_string()))?;
    Ok(Prepared {
        config,
        password,
        tls,
        addrs,
    })
}

/// Builds the runtime and runs until SIGTERM/SIGINT.
pub fn run(prepared: Prepared) -> Exit {
    // The ledd connection is registered with the runtime: build inside it.
    tinsel_daemon::exit::run_current_thread(async { Bridge::new(prepared).serve().await })
}

/// The loop's state.
struct Bridge {
    config: Config,
    /// The topics a message can arrive on, compared for every message.
    command_topic: String,
    ha_status_topic: String,
    password: Option<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
    addrs: Vec<SocketAddr>,
    addr_index: usize,
    ledd: Link,
    client: AsyncClient,
    events: EventLoop,
    /// Connected to the broker (a ConnAck seen since the last error).
    connected: bool,
    /// When the current broker connection was made.
    connected_at: Option<Instant>,
    /// The broker failure causes logged in this outage.
    causes: Causes,
    backoff: Duration,
    retry_at: Option<Instant>,
    /// Since when the broker could not be reached at all.
    unreachable_since: Option<Instant>,
    /// ledd's state as last read.
    view: Option<View>,
    /// The state last published.
    published: Option<View>,
    /// What played last (a bare ON resumes it).
    resume: Option<Playing>,
    /// The effect list last published.
    effects: Vec<Animation>,
    /// Whether the discovery config last published offered the `rgbw`
    /// colour mode (ledd's strip has a white channel).
    white: bool,
    /// The availability last published since the connection.
    available: Option<bool>,
    bucket: TokenBucket,
    /// Rate-limited log lines, one limiter per kind: a flood of one kind
    /// never hides the first line of another.
    flood_log: Gate,
    bad_log: Gate,
    part_log: Gate,
    ledd_log: Gate,
    ha_log: Gate,
    /// Republications for Home Assistant's `online`.
    rediscover: Pace,
    /// When the diagnostic sensors are read next; `None` while they are
    /// off or the broker is away.
    sensors_at: Option<Instant>,
    /// The sensor values last published, in the order of [`sensors::ALL`].
    sensor_values: [Option<String>; 3],
}

impl Bridge {
    fn new(p: Prepared) -> Bridge {
        let opts = broker::options(&p.config, p.addrs[0], p.password.as_deref(), p.tls.as_ref());
        let (client, mut events) = AsyncClient::new(opts, CHANNEL);
        events
            .network_options
            .set_connection_timeout(broker::CONNECT_TIMEOUT.as_secs());
        let bucket = TokenBucket::per_second(p.config.limits.commands_per_second);
        Bridge {
            command_topic: p.config.command_topic(),
            ha_status_topic: p.config.ha_status_topic(),
            ledd: Link::new(p.config.common.ledd_socket.clone(), LEDD_PEER).subscribing(),
            config: p.config,
            password: p.password,
            tls: p.tls,
            addrs: p.addrs,
            addr_index: 0,
            client,
            events,
            connected: false,
            connected_at: None,
            causes: Causes::default(),
            backoff: MIN_BACKOFF,
            retry_at: None,
            unreachable_since: None,
            view: None,
            published: None,
            resume: None,
            effects: Vec::new(),
            white: false,
            available: None,
            bucket,
            flood_log: Gate::new(1, LOG_EVERY),
            bad_log: Gate::new(1, LOG_EVERY),
            part_log: Gate::new(1, LOG_EVERY),
            ledd_log: Gate::new(1, LOG_EVERY),
            ha_log: Gate::new(1, LOG_EVERY),
            rediscover: Pace::new(REDISCOVER_EVERY),
            sensors_at: None,
            sensor_values: Default::default(),
        }
    }

    async fn serve(mut self) -> Exit {
        let mut signals = match Signals::install() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot install signal handlers: {e}");
                return Exit::Internal;
            }
        };
        tracing::info!(
            "mqttd ready: broker {}:{} ({}), ledd at {}, topics {}/...",
            self.config.broker.host,
            self.config.broker.port,
            self.addrs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            self.config.common.ledd_socket.display(),
            self.config.base_topic,
        );
        let mut tick = tokio::time::interval(self.config.limits.status_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let retry_at = self.retry_at;
            let rediscover_at = self.rediscover.due();
            let sensors_at = self.sensors_at;
            tokio::select! {
                signal = signals.recv() => match signal {
                    Signal::Hangup => tracing::warn!(
                        "SIGHUP: mqttd does not reload; restart it to apply config changes (systemctl restart mqttd)"
                    ),
                    s => {
                        tracing::info!("{}: stopping", s.name());
                        break;
                    }
                },
                _ = tick.tick() => self.poll_ledd().await,
                due = self.ledd.due() => {
                    self.ledd.run(due).await;
                    self.on_ledd();
                }
                () = sleep_until(retry_at.unwrap_or_else(Instant::now)), if retry_at.is_some() => {
                    self.retry_at = None;
                }
                () = sleep_until(rediscover_at.unwrap_or_else(Instant::now)), if rediscover_at.is_some() => {
                    self.republish();
                }
                () = sleep_until(sensors_at.unwrap_or_else(Instant::now)), if sensors_at.is_some() => {
                    self.publish_sensors().await;
                }
                event = self.events.poll(), if retry_at.is_none() => match event {
                    Ok(event) => self.on_event(event).await,
                    Err(e) => {
                        self.on_broker_error(&e);
                        let host = &self.config.broker.host;
                        if broker::time_to_reresolve(host, self.unreachable_since, Instant::now()) {
                            tracing::error!(
                                "mqtt: {host} unreachable at {} for {} s: exiting so that systemd restarts mqttd and {host} is resolved again",
                                self.addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                                broker::RERESOLVE_AFTER.as_secs()
                            );
                            return Exit::Unavailable;
                        }
                    }
                },
            }
        }
        self.stop().await;
        tracing::info!("stopped");
        Exit::Ok
    }

    /// Publishes `offline` and disconnects, waiting a little for both to
    /// leave.
    async fn stop(&mut self) {
        if !self.connected {
            return;
        }
        let _ = self.client.try_publish(
            self.config.availability_topic(),
            QoS::AtLeastOnce,
            true,
            OFFLINE,
        );
        let _ = self.client.try_disconnect();
        let _ = tokio::time::timeout(STOP_GRACE, async {
            loop {
                match self.events.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }

    fn on_broker_error(&mut self, e: &rumqttc::ConnectionError) {
        let addr = self.addrs[self.addr_index];
        let (key, line) = broker::explain(e, &self.config, addr);
        if let Some(at) = self.connected_at.take() {
            // A connection that held is a fresh start: a new outage, the
            // shortest backoff. One dropped at once keeps both.
            if at.elapsed() >= STABLE {
                self.causes.clear();
                self.backoff = MIN_BACKOFF;
            }
        }
        if !broker::unreachable_cause(&key) {
            self.unreachable_since = None;
        } else if self.unreachable_since.is_none() {
            self.unreachable_since = Some(Instant::now());
        }
        if self.causes.first(&key) {
            tracing::warn!("mqtt: {line}; retrying in {:?}", self.backoff);
        } else {
            tracing::debug!("mqtt: {line}");
        }
        self.connected = false;
        self.available = None;
        self.sensors_at = None;
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        if self.addrs.len() > 1 {
            self.addr_index = (self.addr_index + 1) % self.addrs.len();
            self.events.mqtt_options = broker::options(
                &self.config,
                self.addrs[self.addr_index],
                self.password.as_deref(),
                self.tls.as_ref(),
            );
        }
    }

    async fn on_event(&mut self, event: Event) {
        match event {
            Event::Incoming(Incoming::ConnAck(_)) => self.on_connected(),
            Event::Incoming(Incoming::Publish(p)) => {
                let topic = p.topic.as_str();
                if topic == self.ha_status_topic {
                    if &p.payload[..] == b"online" {
                        if let Some(held) = self.ha_log.allow(std::time::Instant::now()) {
                            tracing::info!(
                                "Home Assistant came online: publishing the discovery config again{}",
                                held_note(held)
                            );
                        }
                        if self.rediscover.ask(Instant::now()) {
                            self.republish();
                        }
                    }
                } else if topic == self.command_topic
                    || self.config.group_topic.as_deref() == Some(topic)
                {
                    let topic = topic.to_owned();
                    self.on_command(&topic, p.retain, &p.payload).await;
                }
            }
            _ => {}
        }
    }

    fn on_connected(&mut self) {
        let addr = self.addrs[self.addr_index];
        tracing::info!(
            "mqtt: connected to {}:{} ({addr}); discovery config on {}",
            self.config.broker.host,
            self.config.broker.port,
            self.config.discovery_topic()
        );
        self.connected = true;
        self.connected_at = Some(Instant::now());
        self.unreachable_since = None;
        let mut topics = vec![self.command_topic.clone(), self.ha_status_topic.clone()];
        topics.extend(self.config.group_topic.clone());
        for t in topics {
            if let Err(e) = self.client.try_subscribe(t.clone(), QoS::AtLeastOnce) {
                tracing::warn!("mqtt: cannot subscribe to {t}: {e}");
            }
        }
        self.publish_discovery();
        self.publish_sensor_discovery();
        self.available = None;
        self.publish_availability();
        self.published = None;
        self.publish_state();
        // The sensors' values again (the broker may have lost them), soon.
        self.sensor_values = Default::default();
        self.sensors_at = self.config.sensors.enabled.then(Instant::now);
    }

    /// The effects to expose: the configured ones (or all but `selftest`)
    /// that ledd offers.
    fn exposed(&self) -> Vec<Animation> {
        let offered = self.ledd.welcome().map(|w| w.animations);
        self.config
            .wanted_effects()
            .into_iter()
            .filter(|a| offered.is_none_or(|set| set.contains(*a)))
            .collect()
    }

    /// Whether ledd's strip has a white channel, as its Welcome says
    /// (`false` until ledd has answered).
    fn strip_white(&self) -> bool {
        self.ledd.welcome().is_some_and(|w| w.white)
    }

    fn publish(&self, topic: String, retain: bool, payload: String) {
        if let Err(e) = self
            .client
            .try_publish(topic.clone(), QoS::AtLeastOnce, retain, payload)
        {
            tracing::debug!("mqtt: cannot queue a message for {topic}: {e}");
        }
    }

    fn publish_discovery(&mut self) {
        self.effects = self.exposed();
        self.white = self.strip_white();
        let body = publish::discovery(&self.config, &self.effects, self.white).to_string();
        self.publish(self.config.discovery_topic(), true, body);
    }

    /// The discovery config and the state again, for Home Assistant's
    /// `online`: at most once per [`REDISCOVER_EVERY`] (the caller asks
    /// [`Pace`]), the last one never lost.
    fn republish(&mut self) {
        self.rediscover.done(Instant::now());
        if !self.connected {
            // Reconnecting publishes both anyway.
            return;
        }
        self.publish_discovery();
        self.publish_sensor_discovery();
        self.published = None;
        self.publish_state();
    }

    /// The diagnostic sensors' discovery configs; with `[sensors]
    /// enabled = false`, empty retained messages in their place (and their
    /// values'), which make Home Assistant delete the entities.
    fn publish_sensor_discovery(&self) {
        for s in &sensors::ALL {
            let topic = self.config.sensor_discovery_topic(s.object_id);
            if self.config.sensors.enabled {
                let body = sensors::discovery(&self.config, s).to_string();
                self.publish(topic, true, body);
            } else {
                self.publish(topic, true, String::new());
                self.publish(self.config.sensor_topic(s.object_id), true, String::new());
            }
        }
    }

    /// Reads ledd's status for the diagnostic sensors and publishes each
    /// value that changed. Called every `[sensors] interval_secs` from the
    /// loop; a request of its own, so it does not depend on how the state
    /// learns of changes.
    async fn publish_sensors(&mut self) {
        self.sensors_at = Some(Instant::now() + self.config.sensors.interval);
        if !self.connected {
            return;
        }
        let status = match self.ledd.request(&Request::Status).await {
            Ok(Response::Status(s)) => s,
            // ledd away: availability says so; the next round tries again.
            _ => return,
        };
        let values = sensors::values(&status);
        for ((s, value), last) in sensors::ALL
            .iter()
            .zip(values)
            .zip(self.sensor_values.iter_mut())
        {
            if last.as_deref() != Some(value.as_str()) {
                let topic = self.config.sensor_topic(s.object_id);
                if let Err(e) =
                    self.client
                        .try_publish(topic.clone(), QoS::AtLeastOnce, true, value.clone())
                {
                    tracing::debug!("mqtt: cannot queue a message for {topic}: {e}");
                    continue;
                }
                *last = Some(value);
            }
        }
    }

    fn publish_availability(&mut self) {
        let now = self.ledd.is_connected();
        if !self.connected || self.available == Some(now) {
            return;
        }
        if !now {
            tracing::info!("mqtt: ledd is away: availability offline until it is back");
        }
        self.available = Some(now);
        let payload = if now { ONLINE } else { OFFLINE };
        self.publish(self.config.availability_topic(), true, payload.to_owned());
    }

    fn publish_state(&mut self) {
        let Some(view) = self.view else {
            return;
        };
        if !self.connected || self.published == Some(view) {
            return;
        }
        self.publish(
            self.config.state_topic(),
            true,
            publish::state(&view, &self.effects, self.white).to_string(),
        );
        self.published = Some(view);
    }

    /// The slow periodic read of ledd's whole status (and, while ledd is
    /// away, the attempt to reach it).
    async fn poll_ledd(&mut self) {
        match self.ledd.request(&Request::Status).await {
            Ok(Response::Status(s)) => self.saw(&s),
            Ok(other) => tracing::debug!("ledd answered Status with {other:?}"),
            Err(LeddError::Refused(e)) => tracing::warn!("ledd refused Status: {e}"),
            Err(_) => {}
        }
        self.on_ledd();
    }

    /// What ledd says plays now.
    fn saw(&mut self, s: &tinsel_proto::Status) {
        let view = publish::view(s);
        // A timed play (a flash, a webhook's) is not what a bare ON resumes.
        if view.playing.is_some_and(|p| p.params.duration.is_none()) {
            self.resume = view.playing;
        }
        self.view = Some(view);
    }

    /// After anything the ledd link did: the states it was pushed, a new
    /// connection (discovery, the role check), availability, the state.
    fn on_ledd(&mut self) {
        while let Some(s) = self.ledd.take_pushed() {
            self.saw(&s);
        }
        let fresh = self.ledd.take_fresh();
        if fresh {
            self.warn_if_more_than_hooks();
        }
        if fresh
            && self.connected
            && (self.exposed() != self.effects || self.strip_white() != self.white)
        {
            self.publish_discovery();
            // The colour mode may have changed with the strip.
            self.published = None;
        }
        self.publish_availability();
        self.publish_state();
    }

    /// mqttd needs only the hooks role; more is a misconfiguration of
    /// ledd's `[access]` worth a line at each new connection.
    fn warn_if_more_than_hooks(&self) {
        if let Some(w) = self.ledd.welcome()
            && w.role != tinsel_proto::Role::Hooks
        {
            tracing::warn!(
                role = w.role.name(),
                "ledd gives mqttd more than the hooks role: mqttd needs only hooks; list its user under `[access] hooks_users`, not as an admin"
            );
        }
    }

    async fn on_command(&mut self, topic: &str, retained: bool, payload: &[u8]) {
        let now = std::time::Instant::now();
        if retained {
            if let Some(held) = self.bad_log.allow(now) {
                tracing::warn!(
                    "mqtt: ignoring a retained command on {topic} (commands are events; clear it with: mosquitto_pub -r -n -t '{topic}'){}",
                    held_note(held)
                );
            }
            return;
        }
        if !self.bucket.try_take(now) {
            if let Some(held) = self.flood_log.allow(now) {
                tracing::warn!(
                    "mqtt: commands arrive faster than limits.commands_per_second ({}/s): dropping the excess{}",
                    self.config.limits.commands_per_second,
                    held_note(held)
                );
            }
            return;
        }
        let view = self.view.unwrap_or(View {
            playing: None,
            brightness: tinsel_proto::Brightness::DEFAULT,
        });
        let exposed = self.exposed();
        let plan = command::parse(payload, self.config.limits.max_payload_bytes)
            .and_then(|cmd| command::plan(&cmd, &view, &exposed, self.resume));
        let plan = match plan {
            Ok(p) => p,
            Err(e) => {
                self.bad_command(topic, &e);
                return;
            }
        };
        for why in &plan.dropped {
            if let Some(held) = self.part_log.allow(now) {
                tracing::warn!("mqtt: command on {topic}: dropped {why}{}", held_note(held));
            }
        }
        if plan.republish {
            self.published = None;
        }
        let asked = plan.brightness.is_some() || plan.request.is_some() || plan.flash.is_some();
        if let Some(b) = plan.brightness {
            tracing::debug!("mqtt: command on {topic}: brightness {b}");
            if let Err(e) = self.ledd.request(&Request::SetBrightness(b)).await {
                // Without `[access] hooks_max_brightness`, ledd refuses the
                // hooks role and says so; the slider must go back.
                if let Some(held) = self.ledd_log.allow(now) {
                    tracing::warn!(
                        "mqtt: brightness {b} from {topic} not set: {e}{}",
                        held_note(held)
                    );
                }
                self.published = None;
            }
        }
        // The flash last: ledd returns from it to what the command set.
        for request in plan.request.into_iter().chain(plan.flash) {
            tracing::debug!("mqtt: command on {topic}: {request:?}");
            if let Err(e) = self.ledd.request(&request).await {
                if let Some(held) = self.ledd_log.allow(now) {
                    tracing::warn!("mqtt: command on {topic} not done: {e}{}", held_note(held));
                }
                self.published = None;
            }
        }
        if asked {
            // ledd pushes the result within a frame; a refusal republishes
            // what plays now, so that Home Assistant's slider goes back.
            self.on_ledd();
        } else {
            self.publish_state();
        }
    }

    fn bad_command(&mut self, topic: &str, e: &Refused) {
        if let Some(held) = self.bad_log.allow(std::time::Instant::now()) {
            tracing::warn!("mqtt: dropped a command on {topic}: {e}{}", held_note(held));
        }
    }
}
