/** RemoteClock's thread (remote-clock.ts): sends each request it is given and times it to the answer's last byte. */
import { parentPort } from 'node:worker_threads';
import { request } from 'undici';
import { loopbackAgent } from './http-client.ts';

type Sent = { id: number; url: string; method: string; headers: Record<string, string>; body?: string };

async function answer(sent: Sent): Promise<void> {
  try {
    const start = process.hrtime.bigint();
    const res = await request(sent.url, { method: sent.method as 'GET', headers: sent.headers, body: sent.body, dispatcher: loopbackAgent });
    const body = await res.body.text();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const setCookie = res.headers['set-cookie'];
    parentPort!.postMessage({ id: sent.id, status: res.statusCode, setCookie: setCookie === undefined ? [] : [setCookie].flat(), body, ms });
  } catch (err) {
    parentPort!.postMessage({ id: sent.id, error: String(err) });
  }
}

parentPort!.on('message', (sent: Sent) => void answer(sent));
