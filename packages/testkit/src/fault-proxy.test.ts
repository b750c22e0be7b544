import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultProxy } from './fault-proxy.js';
import { closed, dial, echoServer, read, tcpServer } from './fault-proxy.test-helpers.js';
import { freePort } from './ports.js';

let echo: Awaited<ReturnType<typeof echoServer>>;
let proxy: FaultProxy;
let port: number;

beforeEach(async () => {
  echo = await echoServer();
  proxy = new FaultProxy({ port: echo.port });
  port = await proxy.listen();
});

afterEach(async () => {
  await proxy.close();
  await echo.close();
});

describe('FaultProxy without faults', () => {
  it('forwards bytes both ways, a megabyte intact', async () => {
    const socket = await dial(port);
    const payload = Buffer.alloc(1 << 20, 0);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const reply = read(socket, payload.length);
    socket.write(payload);
    expect((await reply)?.equals(payload)).toBe(true);
    expect(proxy.port).toBe(port);
    socket.destroy();
  });

  it('counts connections and bytes', async () => {
    const a = await dial(port);
    const b = await dial(port);
    const replies = [read(a, 5), read(b, 3)];
    a.write('hello');
    b.write('abc');
    await Promise.all(replies);
    expect(proxy.stats()).toEqual({
      connectionsAccepted: 2,
      connectionsActive: 2,
      connectionsReset: 0,
      bytesUpstream: 8,
      bytesDownstream: 8,
    });
    a.end();
    b.destroy();
    await Promise.all([closed(a), closed(b)]);
    await expect.poll(() => proxy.stats().connectionsActive).toBe(0);
  });

  it('passes a half-close through: the server still answers after the client ends its side', async () => {
    const server = await tcpServer((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => socket.end(Buffer.concat(chunks).toString().toUpperCase()));
    });
    const p = new FaultProxy({ port: server.port });
    const socket = await dial(await p.listen());
    const reply = read(socket, 5);
    socket.end('shout');
    expect((await reply)?.toString()).toBe('SHOUT');
    await p.close();
    await server.close();
  });

  it('survives a target that refuses: each client is reset, the proxy keeps listening', async () => {
    const p = new FaultProxy({ port: await freePort() }); // nothing listens there
    const proxyPort = await p.listen();
    for (let i = 0; i < 3; i++) {
      const socket = await dial(proxyPort);
      expect(await closed(socket)).toMatch(/ECONNRESET|close/);
    }
    await expect.poll(() => p.stats().connectionsActive).toBe(0);
    expect(p.stats().connectionsAccepted).toBe(3);
    await p.close();
  });
});

describe('FaultProxy blackhole', () => {
  it('gives a request no reply within 300 ms and keeps the connection open', async () => {
    const socket = await dial(port);
    await proxy.set({ blackhole: true });
    let closedEarly = false;
    socket.once('close', () => {
      closedEarly = true;
    });
    socket.write('anyone?');
    expect(await read(socket, 1, 300)).toBeUndefined();
    expect(closedEarly).toBe(false);
    expect(proxy.stats().connectionsActive).toBe(1);
    socket.destroy();
  });

  it('drops what arrives while on instead of delivering it later', async () => {
    const socket = await dial(port);
    proxy.set({ blackhole: true });
    socket.write('lost');
    await sleep(50);
    await proxy.clear();
    const reply = read(socket, 5, 1_000);
    socket.write('found');
    expect((await reply)?.toString()).toBe('found');
    socket.destroy();
  });
});

describe('FaultProxy reset', () => {
  it('resets a live connection and every new one, until cleared', async () => {
    const live = await dial(port);
    const liveEnded = closed(live);
    await proxy.set({ reset: true });
    expect(await liveEnded).toBe('ECONNRESET');

    // The kernel accepts and the proxy resets at once: seen on connect or right after it.
    const fresh = await dial(port).then(closed, (error: NodeJS.ErrnoException) => error.code);
    expect(fresh).toBe('ECONNRESET');
    expect(proxy.stats().connectionsReset).toBe(2);

    await proxy.clear();
    const after = await dial(port);
    const reply = read(after, 2);
    after.write('ok');
    expect((await reply)?.toString()).toBe('ok');
    after.destroy();
  });
});

describe('FaultProxy refuse', () => {
  it('refuses new connections with ECONNREFUSED, keeps live ones, and listens on the same port once cleared', async () => {
    const live = await dial(port);
    await proxy.set({ refuse: true });
    await expect(dial(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const stillThere = read(live, 4);
    live.write('live');
    expect((await stillThere)?.toString()).toBe('live');

    await proxy.clear();
    expect(proxy.port).toBe(port);
    const socket = await dial(port);
    const reply = read(socket, 2);
    socket.write('ok');
    expect((await reply)?.toString()).toBe('ok');
    socket.destroy();
    live.destroy();
  });

  it('applies a refuse set before listen()', async () => {
    const p = new FaultProxy({ port: echo.port });
    p.set({ refuse: true });
    const refusedPort = await p.listen();
    await expect(dial(refusedPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await p.close();
  });
});

describe('FaultProxy close and arguments', () => {
  it('close() stops listening and ends every connection', async () => {
    const socket = await dial(port);
    const ended = closed(socket);
    await proxy.close();
    await ended;
    expect(proxy.stats().connectionsActive).toBe(0);
    await expect(dial(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(proxy.listen()).rejects.toThrow(/after close/);
  });

  it('listens on a fixed listenPort, and rejects with EADDRINUSE when it is taken', async () => {
    const fixed = new FaultProxy({ port: echo.port, listenPort: port });
    await expect(fixed.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await proxy.close();
    expect(await fixed.listen()).toBe(port);
    const socket = await dial(port);
    const reply = read(socket, 2);
    socket.write('ok');
    expect((await reply)?.toString()).toBe('ok');
    socket.destroy();
    await fixed.close();
  });

  it('rejects invalid options and faults with BALLAST_INVALID_ARGUMENT naming the field', () => {
    expect(() => new FaultProxy({ port: 0 })).toThrow(
      /options\.port must be a whole number in \[1, 65535\], received 0/,
    );
    expect(() => proxy.set({ latencyMs: -1 })).toThrow(
      expect.objectContaining({ code: 'BALLAST_INVALID_ARGUMENT' }),
    );
    expect(() => proxy.set({ downstream: { bandwidthBytesPerSec: 0 } })).toThrow(
      /faults\.downstream\.bandwidthBytesPerSec/,
    );
    expect(() => new FaultProxy({ port: 1 }).port).toThrow(/listen\(\)/);
  });
});
