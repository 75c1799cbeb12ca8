// The console's client of the perpx API: public GETs, private requests signed in the browser
// exactly as any client signs them (HMAC-SHA256 of `timestamp\nMETHOD\npath?query\nbody`, keyed
// with the hex-decoded secret, docs/API.md), and the WebSocket at /ws.
//
// The secret is imported once into a non-extractable WebCrypto key and the text is dropped: it
// lives in this page's memory only — never in a URL, a cookie or local storage — and a reload
// logs out. WebCrypto needs a secure context; http://127.0.0.1 and http://localhost are one.

function hexToBytes(hex) {
  const clean = hex.trim();
  if (!/^([0-9a-fA-F]{2})+$/.test(clean)) throw new Error('the secret is hex');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

function bytesToHex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** An API error: the server's {code, reason, message} and the HTTP status. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? `${body.reason || 'error'} (${body.code}): ${body.message}` : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function answer(r) {
  let body = null;
  const text = await r.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { message: text };
  }
  if (!r.ok) throw new ApiError(r.status, body);
  return body;
}

/** A public GET. */
export async function get(path) {
  return answer(await fetch(path, { headers: { accept: 'application/json' } }));
}

/**
 * The newest `want` events of a history list (oldest first, as the API pages them). The API
 * pages forward from a cursor, so this looks back from the read model's head (`complete_to`)
 * over windows of growing size until one holds enough, paging each to its end.
 */
export async function recentEvents(fetchJson, path, want) {
  const sep = path.includes('?') ? '&' : '?';
  const head = await fetchJson(`${path}${sep}limit=1`);
  const top = Number(head.complete_to || 0);
  let out = [];
  for (const span of [2000, 50000, 1000000, Infinity]) {
    const from = span === Infinity ? 0 : Math.max(0, top - span);
    out = [];
    let cursor = from > 0 ? `${from}:0` : null;
    for (let page = 0; page < 50; page++) {
      const r = await fetchJson(`${path}${sep}limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
      out.push(...r.events);
      if (out.length > 4 * want) out = out.slice(-want);
      cursor = r.next_cursor;
      if (!cursor) break;
    }
    if (out.length >= want || from === 0) break;
  }
  return out.slice(-want);
}

/** A signed session for one API key. */
export class Session {
  /** Imports the secret; `role` is 'trader' or 'admin'. */
  static async open(key, secretHex, role) {
    if (!window.crypto || !crypto.subtle) throw new Error('WebCrypto is unavailable: open the console over https or on 127.0.0.1/localhost');
    const raw = hexToBytes(secretHex);
    const cryptoKey = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    raw.fill(0);
    return new Session(key.trim(), cryptoKey, role);
  }

  constructor(key, cryptoKey, role) {
    this.key = key;
    this.cryptoKey = cryptoKey;
    this.role = role;
    this.lastTs = 0;
    this.account = null;
  }

  /** A signing timestamp strictly after the last one (two identical requests signed in one
   * millisecond would share a signature and the second be refused as a replay). */
  stamp() {
    this.lastTs = Math.max(Date.now(), this.lastTs + 1);
    return this.lastTs;
  }

  async sign(ts, method, pathAndQuery, body) {
    const bytes = new TextEncoder().encode(`${ts}\n${method}\n${pathAndQuery}\n${body}`);
    return bytesToHex(await crypto.subtle.sign('HMAC', this.cryptoKey, bytes));
  }

  /** A signed request; `body` is an object (POST) or undefined (GET). */
  async request(method, pathAndQuery, body) {
    const text = body === undefined ? '' : JSON.stringify(body);
    const ts = this.stamp();
    const signature = await this.sign(ts, method, pathAndQuery, text);
    const headers = {
      accept: 'application/json',
      'X-PERPX-APIKEY': this.key,
      'X-PERPX-TIMESTAMP': String(ts),
      'X-PERPX-SIGNATURE': signature,
    };
    if (method !== 'GET') headers['content-type'] = 'application/json';
    const r = await fetch(pathAndQuery, { method, headers, body: method === 'GET' ? undefined : text });
    return answer(r);
  }

  get(pathAndQuery) {
    return this.request('GET', pathAndQuery);
  }

  post(path, body) {
    return this.request('POST', path, body);
  }

  /** The WebSocket auth message: the REST scheme over `timestamp\nGET\n/ws\n`. */
  async wsAuth() {
    const ts = this.stamp();
    return { op: 'auth', key: this.key, timestamp: ts, signature: await this.sign(ts, 'GET', '/ws', '') };
  }
}

/**
 * One WebSocket with its subscriptions: re-subscribes (and re-authenticates) after a
 * reconnect, and hands every message to `onMessage`.
 */
export class Stream {
  constructor(onMessage, onState) {
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.subs = new Map();
    this.session = null;
    this.ws = null;
    this.closed = false;
    this.backoff = 500;
    this.connect();
  }

  static keyOf(sub) {
    return `${sub.channel}:${sub.market || ''}`;
  }

  connect() {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = async () => {
      this.backoff = 500;
      this.onState('open');
      if (this.session) await this.sendAuth();
      for (const sub of this.subs.values()) this.send({ op: 'subscribe', ...sub });
    };
    ws.onmessage = (e) => {
      let m;
      try {
        m = JSON.parse(e.data);
      } catch {
        return;
      }
      this.onMessage(m);
    };
    ws.onclose = () => {
      this.onState('closed');
      if (this.closed) return;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
  }

  send(m) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  async sendAuth() {
    if (!this.session || this.session.role !== 'trader') return;
    this.send(await this.session.wsAuth());
  }

  /** Authenticates (or, with null, forgets) the account channel's key; reconnects to drop an old one. */
  async setSession(session) {
    const had = this.subs.has('account:');
    this.session = session;
    this.subs.delete('account:');
    if (had && this.ws) {
      // The connection is authenticated as the previous key: a new one forgets it.
      this.ws.close();
      return;
    }
    if (session && session.role === 'trader') {
      this.subs.set('account:', { channel: 'account' });
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        await this.sendAuth();
        this.send({ op: 'subscribe', channel: 'account' });
      }
    }
  }

  subscribe(channel, market) {
    const sub = market ? { channel, market } : { channel };
    this.subs.set(Stream.keyOf(sub), sub);
    this.send({ op: 'subscribe', ...sub });
  }

  unsubscribe(channel, market) {
    const sub = market ? { channel, market } : { channel };
    this.subs.delete(Stream.keyOf(sub));
    this.send({ op: 'unsubscribe', ...sub });
  }

  /** A fresh book snapshot: unsubscribe and subscribe again. */
  resubscribe(channel, market) {
    this.unsubscribe(channel, market);
    this.subscribe(channel, market);
  }
}
