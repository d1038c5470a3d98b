/**
 * Credentials of a test control plane, generated fresh in its temporary folder (nothing is committed): the API
 * server's self-signed serving certificate (openssl), the ServiceAccount token signing key pair (Node crypto),
 * the static admin token, and kubeconfig files.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { must } from '../net/netns.js';

/** Files and secrets of one control plane. */
export interface Credentials {
  /** The serving certificate; self-signed, so it is also the CA clients trust. */
  readonly caFile: string;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
  readonly serviceAccountSigningKeyFile: string;
  /** `--token-auth-file`: one line, the admin token in group system:masters. */
  readonly tokenAuthFile: string;
  readonly adminToken: string;
}

/** Writes every credential into `dir`; `addresses` are the IPs the serving certificate names. */
export async function writeCredentials(dir: string, addresses: readonly string[]): Promise<Credentials> {
  const tlsCertFile = join(dir, 'apiserver.crt');
  const tlsKeyFile = join(dir, 'apiserver.key');
  const ips = [...new Set([...addresses, '127.0.0.1'])].map((a) => `IP:${a}`);
  const dns = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'].map((d) => `DNS:${d}`);
  // One self-signed certificate, CA:TRUE so Go's and Node's verifiers accept it as its own root.
  await must('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', tlsKeyFile, '-out', tlsCertFile, '-days', '2', '-subj', '/CN=kroute-test-apiserver',
    '-addext', `subjectAltName=${[...ips, ...dns].join(',')}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign',
    '-addext', 'extendedKeyUsage=serverAuth']);

  // ES256 keys sign ServiceAccount tokens (TokenRequest); generating them in-process is instant.
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serviceAccountPublicKeyFile = join(dir, 'sa.pub');
  const serviceAccountSigningKeyFile = join(dir, 'sa.key');
  await writeFile(serviceAccountPublicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(serviceAccountSigningKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

  const adminToken = randomBytes(24).toString('hex');
  const tokenAuthFile = join(dir, 'tokens.csv');
  await writeFile(tokenAuthFile, `${adminToken},kroute-test-admin,kroute-test-admin,"system:masters"\n`, { mode: 0o600 });
  return { caFile: tlsCertFile, tlsCertFile, tlsKeyFile, serviceAccountPublicKeyFile, serviceAccountSigningKeyFile, tokenAuthFile, adminToken };
}

/** Writes a kubeconfig for `server` authenticating with a bearer token; returns its path. */
export async function writeKubeconfig(path: string, server: string, caFile: string, user: string, token: string): Promise<string> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kroute-test', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster: 'kroute-test', user } }],
    'current-context': user,
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}
