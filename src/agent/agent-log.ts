// What the agent logs: one structured event per decision (who connected, accepted or refused and why,
// each command run). Never a key, nonce or session secret. The CLI prints them as text or JSON lines.

export type LogLevel = 'info' | 'warn' | 'error';

export interface AgentLogEvent {
  level: LogLevel;
  /** A stable event name: listening, refused, connected, authenticated, auth-failed, ... */
  event: string;
  message: string;
  /** The peer as "address:port". */
  remote?: string;
  /** The client key's fingerprint, once known. */
  key?: string;
  /** A short public session identifier to correlate lines. */
  session?: string;
  [field: string]: unknown;
}

export type AgentLogger = (e: AgentLogEvent) => void;

export const discardLog: AgentLogger = () => {};
