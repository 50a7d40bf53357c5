/**
 * A tiny authoritative DNS server on loopback (UDP), so no test depends on public DNS: A,
 * AAAA and TXT records the test sets, NXDOMAIN for anything else. Atrium is pointed at it
 * with DNS_SERVERS.
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';

export interface TestDns {
  /** `127.0.0.1:<port>`, the value for DNS_SERVERS. */
  readonly server: string;
  setA(name: string, ...addresses: string[]): void;
  setAAAA(name: string, ...addresses: string[]): void;
  setTxt(name: string, ...values: string[]): void;
  remove(name: string): void;
  close(): Promise<void>;
}

type Kind = 'A' | 'AAAA' | 'TXT';

export async function startTestDns(): Promise<TestDns> {
  const records = new Map<string, Map<Kind, string[]>>();
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, peer) => {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const byKind = records.get(name);
    const values = byKind?.get(question.type as Kind) ?? [];
    const answers = values.map((data) => ({ type: question.type, name: question.name, ttl: 0, class: 'IN', data: question.type === 'TXT' ? [data] : data }));
    const response = dnsPacket.encode({
      type: 'response',
      id: query.id,
      // NXDOMAIN when the name has no records at all, NOERROR (no data) otherwise.
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (byKind ? 0 : 3),
      questions: query.questions,
      answers: answers as dnsPacket.Answer[],
    });
    socket.send(response, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let closed: Promise<void> | undefined;
  const { port } = socket.address();
  const set = (kind: Kind) => (name: string, ...values: string[]) => {
    const key = name.toLowerCase().replace(/\.$/, '');
    const byKind = records.get(key) ?? new Map<Kind, string[]>();
    byKind.set(kind, values);
    records.set(key, byKind);
  };
  return {
    server: `127.0.0.1:${port}`,
    setA: set('A'),
    setAAAA: set('AAAA'),
    setTxt: set('TXT'),
    remove: (name) => void records.delete(name.toLowerCase()),
    // Idempotent: a test may stop its Atrium twice.
    close: () => (closed ??= new Promise<void>((resolve) => socket.close(() => resolve()))),
  };
}
