// An agent's identity: an Ed25519 key pair in its state dir (made on first
// start, the private key 0600), and the host's machine id. The API trusts an
// agent only once an operator (or auto_accept) accepted this very key for
// its hostname; a new key puts it back to pending.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprintOf } from '../job/result-signing.js';
import { loadOrCreateSigningKeys, rawPublicKey } from '../job/signing.js';

export interface AgentIdentity {
  privateKey: KeyObject;
  /** The raw 32-byte public key, base64. */
  publicKey: string;
  /** `SHA256:` and the base64 (no padding) of the SHA-256 of the raw public key, as ssh writes it. */
  fingerprint: string;
  machineId: string;
}

/** Where the agent's private key lives (its public key beside it, `agent.pub`). */
export function agentKeyPath(stateDir: string): string {
  return join(stateDir, 'agent.key');
}

export function readMachineId(path = '/etc/machine-id'): string {
  try {
    const id = readFileSync(path, 'utf8').trim();
    return /^[0-9a-f]{32}$/.test(id) ? id : '';
  } catch {
    return '';
  }
}

/** Loads the agent's key, making it on first start (JobKeyError when unreadable or open to others). */
export function loadAgentIdentity(stateDir: string): AgentIdentity {
  const privateKey = loadOrCreateSigningKeys(agentKeyPath(stateDir), "agent's key");
  const publicKey = rawPublicKey(createPublicKey(privateKey)).toString('base64');
  return {
    privateKey,
    publicKey,
    fingerprint: fingerprintOf(publicKey),
    machineId: readMachineId(),
  };
}
