import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultProxy } from './fault-proxy.js';
import { dial, echoServer, median, read, roundTripMs, tcpServer } from './fault-proxy.test-helpers.js';

// Lower bounds only: a loaded machine makes things slower, never faster than the faults allow.

let echo: Awaited<ReturnType<typeof echoServer>>;
let proxy: FaultProxy;
let socket: Socket;

beforeEach(async () => {
  echo = await echoServer();
  proxy = new FaultProxy({ port: echo.port });
  socket = await dial(await proxy.listen());
});

afterEach(async () => {
  socket.destroy();
  await proxy.close();
  await echo.close();
});

describe('FaultProxy latency', () => {
  it('adds the latency it was set to in each direction: 50 ms makes a round trip >= ~100 ms longer', async () => {
    const base = await median(5, () => roundTripMs(socket));
    proxy.set({ latencyMs: 50 });
    const slowed = await median(3, () => roundTripMs(socket));
    expect(slowed - base).toBeGreaterThanOrEqual(90);
  });

  it('keeps order under jitter: chunks come back in the order they were sent', async () => {
    proxy.set({ latencyMs: 5, jitterMs: 40 });
    const count = 40;
    const reply = read(socket, count * 4);
    for (let i = 0; i < count; i++) {
      socket.write(String(i).padStart(4, '0'));
      await new Promise((r) => setImmediate(r)); // separate chunks, each with its own jitter
    }
    const text = (await reply)?.toString() ?? '';
    const expected = Array.from({ length: count }, (_, i) => String(i).padStart(4, '0')).join('');
    expect(text).toBe(expected);
  });

  it('applies only to the direction it was set on', async () => {
    let arrivedAt = 0;
    const server = await tcpServer((s) =>
      s.on('data', (chunk: Buffer) => {
        arrivedAt = performance.now();
        s.write(chunk);
      }),
    );
    const p = new FaultProxy({ port: server.port });
    const client = await dial(await p.listen());
    p.set({ downstream: { latencyMs: 150 } });
    const sentAt = performance.now();
    const reply = read(client, 2);
    client.write('hi');
    await reply;
    const repliedAt = performance.now();
    expect(arrivedAt - sentAt).toBeLessThan(100); // upstream: not delayed by the downstream fault
    expect(repliedAt - arrivedAt).toBeGreaterThanOrEqual(140);
    client.destroy();
    await p.close();
    await server.close();
  });
});

describe('FaultProxy bandwidth', () => {
  it('paces 100 KB at 200 KB/s to take >= ~400 ms', async () => {
    const size = 100_000;
    const sink = await tcpServer((s) => {
      let got = 0;
      s.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got >= size) s.write('ok');
      });
    });
    const p = new FaultProxy({ port: sink.port });
    const client = await dial(await p.listen());
    p.set({ bandwidthBytesPerSec: 200_000 });
    const started = performance.now();
    const reply = read(client, 2);
    client.write(Buffer.alloc(size, 1));
    expect((await reply)?.toString()).toBe('ok');
    expect(performance.now() - started).toBeGreaterThanOrEqual(400);
    expect(p.stats().bytesUpstream).toBe(size);
    client.destroy();
    await p.close();
    await sink.close();
  });
});

describe('FaultProxy per-direction blackhole', () => {
  it('silences one direction and leaves the other flowing', async () => {
    const received: Buffer[] = [];
    const server = await tcpServer((s) => {
      s.on('data', (chunk: Buffer) => received.push(chunk));
      s.write('greeting');
    });
    const p = new FaultProxy({ port: server.port });
    p.set({ upstream: { blackhole: true } });
    const client = await dial(await p.listen());
    expect((await read(client, 8))?.toString()).toBe('greeting');
    client.write('into the void');
    await new Promise((r) => setTimeout(r, 150));
    expect(received).toEqual([]);
    client.destroy();
    await p.close();
    await server.close();
  });
});

describe('FaultProxy live changes', () => {
  it('applies a fault change to a connection that is already open', async () => {
    const fast = await roundTripMs(socket);
    proxy.set({ latencyMs: 100 });
    expect(await roundTripMs(socket)).toBeGreaterThanOrEqual(190);
    proxy.clear();
    expect(await roundTripMs(socket)).toBeLessThan(fast + 100);
  });

  it('releases held data at once when the latency is lifted', async () => {
    proxy.set({ latencyMs: 5_000 });
    const started = performance.now();
    const reply = read(socket, 4);
    socket.write('held');
    await new Promise((r) => setTimeout(r, 50));
    proxy.clear();
    expect((await reply)?.toString()).toBe('held');
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
