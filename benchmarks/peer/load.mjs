// Load for one scenario against one server, from its own process, over keep-alive connections.
//
// Usage: node load.mjs '<json>'; the JSON gives
//   base        the server's base URL (loopback)
//   method, path, headers, body      the request
//   kind        "static" (the same request every time),
//               "bearer" (Authorization: Bearer <token>, tokens taken round-robin),
//               "introspect" (body token=<token>, round-robin),
//               "refresh" (body refresh_token=<token>: each token is sent once; the rotated
//               refresh token of every 200 response goes back into the pool, so a pool a little
//               larger than the number of connections lasts for any duration)
//   tokens      the token pool for the non-static kinds
//   duration    seconds
//   and either  connections (closed loop: autocannon, each connection sends its next request
//               when the previous answer arrives; gives the peak rate)
//   or          rate + connections (open loop: requests start at evenly spaced times, `rate`
//               per second, on up to `connections` sockets; latency counts from the scheduled
//               start, so a server falling behind shows in it, as in wrk2)
// Prints one JSON object: requests, seconds, rps, p50_ms, p99_ms, errors (non-2xx, socket
// errors and timeouts), statuses, and tokens_left for "refresh".

import http from 'node:http';

import autocannon from 'autocannon';

const spec = JSON.parse(process.argv[2]);
const base = new URL(spec.base);
const pool = [...(spec.tokens ?? [])];
let cursor = 0;

function nextToken() {
  if (spec.kind === 'refresh') return pool.shift();
  const token = pool[cursor % pool.length];
  cursor += 1;
  return token;
}

// The request to send now, or null when the refresh pool is empty.
function buildRequest() {
  const headers = { ...(spec.headers ?? {}) };
  let body = spec.body;
  if (spec.kind === 'bearer') {
    headers.authorization = `Bearer ${nextToken()}`;
  } else if (spec.kind === 'introspect') {
    body = new URLSearchParams({ token: nextToken(), token_type_hint: 'access_token' }).toString();
  } else if (spec.kind === 'refresh') {
    const token = nextToken();
    if (token === undefined) return null;
    body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString();
  }
  if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  return { method: spec.method ?? 'GET', path: spec.path, headers, body };
}

function takeRotated(status, body) {
  if (spec.kind !== 'refresh' || status !== 200) return;
  try {
    const token = JSON.parse(body).refresh_token;
    if (token) pool.push(token);
  } catch {
    // not JSON: counted as an error by its status or left out of the pool
  }
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(latencies, seconds, errors, statuses) {
  latencies.sort((a, b) => a - b);
  const result = {
    requests: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    errors,
    statuses,
  };
  if (spec.kind === 'refresh') result.tokens_left = pool;
  return result;
}

function closedLoop() {
  return new Promise((resolve, reject) => {
    const latencies = [];
    const statuses = {};
    const first = buildRequest();
    const instance = autocannon({
      url: base.origin,
      connections: spec.connections,
      duration: spec.duration,
      timeout: 10,
      requests: [{
        ...first,
        setupRequest: (request) => {
          const next = buildRequest();
          return next ? { ...request, ...next } : { ...request, ...first };
        },
        onResponse: (status, body) => takeRotated(status, body),
      }],
    }, (error, result) => {
      if (error) return reject(error);
      const non2xx = Object.entries(statuses)
        .filter(([status]) => !status.startsWith('2'))
        .reduce((sum, [, count]) => sum + count, 0);
      return resolve(summary(latencies, result.duration, non2xx + result.errors + result.timeouts,
        statuses));
    });
    instance.on('response', (client, status, bytes, responseTime) => {
      latencies.push(responseTime);
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
  });
}

function openLoop() {
  return new Promise((resolve) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
    const latencies = [];
    const statuses = {};
    let errors = 0;
    let started = 0;
    let finished = 0;
    const total = Math.round(spec.rate * spec.duration);
    const interval = 1000 / spec.rate; // ms between scheduled starts
    const t0 = performance.now();

    // Refresh requests scheduled while every token is in flight wait for the next rotated
    // token; their latency still counts from the scheduled time.
    const waiting = [];

    let over = false;

    function finish() {
      if (over) return;
      over = true;
      clearInterval(ticker);
      clearTimeout(deadline);
      agent.destroy();
      resolve(summary(latencies, (performance.now() - t0) / 1000, errors, statuses));
    }

    function done() {
      finished += 1;
      if (waiting.length && pool.length) send(waiting.shift());
      if (finished === total) finish();
    }

    // Tokens lost to failed requests could leave requests waiting forever: they count as
    // errors once the run is well past its end.
    const deadline = setTimeout(() => {
      statuses.no_token = waiting.length;
      errors += waiting.length;
      finish();
    }, (spec.duration + 15) * 1000);

    function send(scheduled) {
      const next = buildRequest();
      if (!next) {
        waiting.push(scheduled);
        return undefined;
      }
      const headers = { ...next.headers };
      if (next.body !== undefined) headers['content-length'] = Buffer.byteLength(next.body);
      const req = http.request(
        { host: base.hostname, port: base.port, method: next.method, path: next.path, headers, agent },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () => {
            latencies.push(performance.now() - scheduled);
            statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
            if (res.statusCode < 200 || res.statusCode >= 300) errors += 1;
            takeRotated(res.statusCode, Buffer.concat(chunks).toString());
            done();
          });
        },
      );
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        errors += 1;
        done();
      });
      if (next.body !== undefined) req.write(next.body);
      req.end();
    }

    const ticker = setInterval(() => {
      const due = Math.min(total, Math.floor((performance.now() - t0) / interval) + 1);
      while (started < due) {
        send(t0 + started * interval);
        started += 1;
      }
    }, 1);
  });
}

const result = spec.rate ? await openLoop() : await closedLoop();
process.stdout.write(JSON.stringify(result));
