'use strict';
// The tree's page. Everything from the network is shown with textContent,
// never parsed as HTML. The device cookie is HttpOnly: this script never
// sees it; the pairing code is read from the URL's fragment, removed from
// the address bar and history, and sent once in a POST body.
(() => {
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 2000;
  let offer = null;
  let chosen = null;
  let timer = null;

  async function api(path, body) {
    const init = body === undefined
      ? { credentials: 'same-origin', cache: 'no-store' }
      : {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        };
    const r = await fetch(path, init);
    let json = null;
    try { json = await r.json(); } catch (_) { json = null; }
    return { status: r.status, body: json };
  }

  function say(text) { $('msg').textContent = text || ''; }

  function problem(r, fallback) {
    return (r.body && typeof r.body.message === 'string') ? r.body.message : fallback;
  }

  async function pair() {
    const code = location.hash.slice(1);
    if (location.pathname !== '/pair') return;
    history.replaceState(null, '', '/');
    if (!code) return;
    const r = await api('/pair', { code });
    say(r.status === 200 ? 'Paired as ' + r.body.device + '.' : problem(r, 'Pairing failed.'));
  }

  function label(name) {
    return name.charAt(0).toUpperCase() + name.slice(1).replace(/-/g, ' ');
  }

  function choose(name) {
    chosen = offer.animations.find((a) => a.name === name) || offer.animations[0];
    for (const b of $('animations').children) {
      const on = b.dataset.name === chosen.name;
      b.setAttribute('aria-checked', String(on));
      b.tabIndex = on ? 0 : -1;
    }
    $('color-row').hidden = !chosen.color;
    $('speed-row').hidden = !chosen.speed;
  }

  function build(page) {
    offer = page;
    const box = $('animations');
    box.replaceChildren();
    for (const a of page.animations) {
      const b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('role', 'radio');
      b.dataset.name = a.name;
      b.textContent = label(a.name);
      b.addEventListener('click', () => choose(a.name));
      box.append(b);
    }
    // A radio group: one tab stop, arrow keys move the choice.
    box.addEventListener('keydown', (e) => {
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
      if (!step) return;
      e.preventDefault();
      const all = offer.animations;
      const i = all.findIndex((a) => a.name === chosen.name);
      choose(all[(i + step + all.length) % all.length].name);
      box.querySelector('[aria-checked="true"]').focus();
    });
    const speed = $('speed');
    speed.min = String(page.speed.min);
    speed.max = String(page.speed.max);
    choose(page.animations[0].name);
  }

  function show(state) {
    const now = $('now');
    if (!state) {
      now.textContent = 'The tree is not answering';
      now.className = '';
      return;
    }
    let text = state.on ? label(state.animation) : 'Off';
    if (state.on && state.timed && state.remaining_secs !== null) {
      text += ', ' + Math.ceil(state.remaining_secs / 60) + ' min left';
    }
    now.textContent = text;
    now.className = state.on ? 'on' : '';
    for (const b of $('animations').children) {
      b.classList.toggle('playing', state.on && b.dataset.name === state.animation);
    }
  }

  async function refresh() {
    const r = await api('/page/state');
    if (r.status === 200 && r.body && r.body.paired === false) {
      $('unpaired').hidden = false;
      $('controls').hidden = true;
      $('now').textContent = 'Not paired';
      return;
    }
    if (r.status !== 200 || !r.body) {
      $('unpaired').hidden = r.status !== 401;
      $('controls').hidden = r.status === 401;
      $('now').textContent = r.status === 401 ? 'Not paired' : 'Unavailable';
      if (r.status !== 401) say(problem(r, 'The tree is not reachable.'));
      return;
    }
    $('unpaired').hidden = true;
    $('controls').hidden = false;
    if (!offer) build(r.body.page);
    show(r.body.state);
    $('who').textContent = 'This device: ' + r.body.device.name;
  }

  async function send(path, body) {
    say('');
    const r = await api(path, body);
    if (r.status !== 200) say(problem(r, 'Refused.'));
    await tick();
  }

  function play() {
    const body = { animation: chosen.name };
    if (chosen.color) body.color = $('color').value;
    if (chosen.speed) body.speed = Number($('speed').value);
    const minutes = $('minutes').value;
    if (minutes) body.minutes = Number(minutes);
    return send('/page/play', body);
  }

  function schedule() {
    clearTimeout(timer);
    if (document.visibilityState === 'visible') timer = setTimeout(tick, POLL_MS);
  }

  async function tick() {
    try { await refresh(); } catch (_) { $('now').textContent = 'The tree is not reachable'; }
    schedule();
  }

  $('speed').addEventListener('input', () => { $('speed-out').textContent = $('speed').value + '%'; });
  $('play').addEventListener('click', () => { play(); });
  $('off').addEventListener('click', () => { send('/page/off', {}); });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') tick(); else clearTimeout(timer);
  });
  pair().catch(() => say('Pairing failed: the tree is not reachable.')).finally(tick);
})();
