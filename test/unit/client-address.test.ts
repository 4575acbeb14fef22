import { clientAddress, proxyTrust, type TrustProxy } from '../../src/http/client-address.js';

/** A request's socket peer and the X-Forwarded-For the last hop sent. */
const address = (trust: TrustProxy, peer: string, xff?: string) => clientAddress(peer, xff, proxyTrust(trust));

describe('the client address behind proxies', () => {
  it('ignores X-Forwarded-For when no proxy is trusted', () => {
    expect(address(false, '192.0.2.1', '198.51.100.1')).toBe('192.0.2.1');
    expect(address(0, '192.0.2.1', '198.51.100.1')).toBe('192.0.2.1');
  });

  it('true is one trusted hop: the rightmost entry, whatever the client wrote to its left', () => {
    expect(address(true, '10.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
    expect(address(true, '10.0.0.1', '198.51.100.1, 198.51.100.2, 203.0.113.9')).toBe('203.0.113.9');
    expect(address(1, '10.0.0.1', '198.51.100.1,203.0.113.9')).toBe('203.0.113.9');
    // No header: the proxy itself is the client (a health check, say).
    expect(address(true, '10.0.0.1')).toBe('10.0.0.1');
  });

  it('N hops: the Nth entry from the right', () => {
    expect(address(2, '10.0.0.1', '198.51.100.1, 203.0.113.9, 10.0.0.2')).toBe('203.0.113.9');
    expect(address(3, '10.0.0.1', '198.51.100.1, 203.0.113.9, 10.0.0.3, 10.0.0.2')).toBe('203.0.113.9');
  });

  it('a list of proxies: the rightmost address outside it; a peer outside it is the client', () => {
    const proxies = ['10.0.0.0/8', '2001:db8::/32'];
    expect(address(proxies, '10.0.0.1', '198.51.100.1, 203.0.113.9, 10.2.3.4')).toBe('203.0.113.9');
    expect(address(proxies, '2001:db8::1', '198.51.100.1, 2001:db8:ffff::2')).toBe('198.51.100.1');
    expect(address(proxies, '192.0.2.50', '198.51.100.1, 203.0.113.9')).toBe('192.0.2.50');
    expect(address(['loopback'], '127.0.0.1', '198.51.100.1, 203.0.113.9')).toBe('203.0.113.9');
  });

  it('writes IPv4 clients of a dual-stack socket as a.b.c.d', () => {
    expect(address(false, '::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(address(['::ffff:10.0.0.1'], '::ffff:10.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
  });
});
