import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpClient } from './http-client.js';
import { LoadGenerator, runOpenLoop } from './load.js';
import { ratesFor } from './story.js';

interface Seen {
  instance: number;
  headers: IncomingHttpHeaders;
  body: { conversationId: string; message: string };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/**
 * Two fake instances sharing one conversation store: each chat appends a message and a reply and answers with
 * the history `historyOf` picks (the whole conversation by default) and a token naming the chat's number.
 */
async function fakeInstances(seen: Seen[], historyOf = (ids: number[]) => ids): Promise<string[]> {
  const ids: number[] = [];
  const bases: string[] = [];
  for (let instance = 0; instance < 2; instance++) {
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => {
        text += c.toString();
      });
      req.on('end', () => {
        const body = JSON.parse(text) as Seen['body'];
        seen.push({ instance, headers: req.headers, body });
        const messageId = ids.length + 1;
        ids.push(messageId);
        const historyIds = historyOf([...ids]);
        ids.push(messageId + 1);
        res.setHeader('content-type', 'application/json');
        res.setHeader('x-ballast-session', `token-${seen.length}`);
        res.end(
          JSON.stringify({
            messageId,
            replyId: messageId + 1,
            historyIds,
            stale: !historyIds.includes(messageId),
          }),
        );
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    bases.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }
  return bases;
}

function generator(bases: string[]): LoadGenerator {
  return new LoadGenerator({
    client: new HttpClient(),
    bases,
    users: 1,
    prefix: 'run-ballast',
    deadlineMs: 1000,
    rates: ratesFor(10),
    seed: 1,
    startedAt: performance.now(),
  });
}

describe('LoadGenerator.chat', () => {
  it('sends each request of a user to the other instance, with the token of its previous answer', async () => {
    const seen: Seen[] = [];
    const load = generator(await fakeInstances(seen));
    for (let i = 0; i < 3; i++) {
      load.chat();
      await load.drain(2000);
    }
    expect(seen.map((s) => s.instance)).toEqual([0, 1, 0]);
    expect(seen.map((s) => s.headers['x-ballast-session'])).toEqual([undefined, 'token-1', 'token-2']);
    expect(seen[0]?.body.conversationId).toBe('run-ballast-u0');
    expect(load.records.map((r) => [r.route, r.status, r.stale])).toEqual([
      ['chat', 200, false],
      ['chat', 200, false],
      ['chat', 200, false],
    ]);
  });

  it('records a stale read when the other instance misses what the user got back before', async () => {
    const seen: Seen[] = [];
    // the second chat's history misses the first chat's reply (id 2), as a lagging replica would
    const load = generator(await fakeInstances(seen, (ids) => ids.filter((id) => id !== 2)));
    load.chat();
    await load.drain(2000);
    load.chat();
    await load.drain(2000);
    expect(load.records.map((r) => r.stale)).toEqual([false, true]);
  });

  it('counts an arrival that finds every user busy as unsent', async () => {
    const load = generator(await fakeInstances([]));
    load.chat();
    load.chat();
    await load.drain(2000);
    expect(load.unsent[0]).toBe(1);
    expect(load.records).toHaveLength(1);
  });
});

describe('runOpenLoop', () => {
  it('fires each stream rate × duration times, whatever the answers do', async () => {
    let fast = 0;
    let slow = 0;
    const streams = [
      { perSec: 200, fire: () => fast++ },
      { perSec: 10, fire: () => slow++ },
    ];
    await runOpenLoop(streams, 250, new AbortController().signal);
    // arrivals at (k − 0.5) intervals: 50 of the fast stream; the slow one's come at 50 and 150 ms
    expect(fast).toBe(50);
    expect(slow).toBe(2);
  });

  it('stops early when aborted', async () => {
    let fired = 0;
    const abort = new AbortController();
    abort.abort();
    await runOpenLoop([{ perSec: 1000, fire: () => fired++ }], 60_000, abort.signal);
    expect(fired).toBe(0);
  });
});
