//! mqttd's command payload, as a broker delivers it: parsed under the size
//! cap, then planned against what plays. Any panic is a bug; so is a plan
//! that plays an animation the tree does not expose.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqttd::command::{View, parse, plan};
use tinsel_proto::{Animation, Brightness, Request};

/// mqttd's default `limits.max_payload_bytes`.
const MAX_PAYLOAD: usize = 1024;
const EXPOSED: [Animation; 3] = [Animation::Solid, Animation::Fire, Animation::Rainbow];

fuzz_target!(|data: &[u8]| {
    let Ok(cmd) = parse(data, MAX_PAYLOAD) else {
        return;
    };
    let Ok(brightness) = Brightness::new(40) else {
        return;
    };
    let view = View {
        playing: None,
        brightness,
    };
    if let Ok(p) = plan(&cmd, &view, &EXPOSED, None)
        && let Some(Request::Play { animation, .. }) = p.request
    {
        assert!(EXPOSED.contains(&animation), "{animation:?} is not exposed");
    }
});
