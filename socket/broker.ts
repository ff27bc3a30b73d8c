/**
 * The contract between a server's pub/sub topics and a broker that carries
 * publications between processes (the Redis broker of the `./redis` entry
 * is one). Types only: with no broker configured nothing here runs and
 * nothing is imported.
 *
 * The server delivers a publication to its own subscribers at once, framed
 * once, and hands it to the broker for the other processes; the broker
 * delivers what other processes published, and must not hand a process its
 * own publications back. A topic is subscribed at the broker while at
 * least one local socket is subscribed to it.
 *
 * @module
 */

/** Text, or bytes that are only valid during the call (copy to keep). */
export type BrokerData = string | Uint8Array;

/**
 * Takes a publication from another process and queues it to this
 * process's subscribers of `topic` (framed once for all of them).
 */
export type BrokerDelivery = (topic: string, data: BrokerData) => void;

/** Carries publications between the processes of one service. */
export interface Broker {
  /**
   * Starts delivering other processes' publications to `deliver`; a server
   * calls this once when it starts with the broker.
   *
   * @param deliver where publications from other processes go
   * @throws {TypeError} when another server is attached already
   */
  attach(deliver: BrokerDelivery): void;
  /** Stops delivering to the attached server (it is shutting down) and
   * leaves every topic it subscribed to. */
  detach(): void;
  /**
   * Starts receiving the publications on `topic` (a local socket just
   * subscribed to it and was the first). Failures are the broker's to
   * retry and report; this does not throw for them.
   *
   * @param topic any string
   */
  subscribe(topic: string): void;
  /**
   * Stops receiving the publications on `topic` (its last local subscriber
   * left).
   *
   * @param topic the topic
   */
  unsubscribe(topic: string): void;
  /**
   * Sends a publication to every other process subscribed to `topic`. This
   * process's own subscribers have had it already.
   *
   * @param topic the topic
   * @param data the message; bytes must be copied if kept past the call
   */
  publish(topic: string, data: BrokerData): void;
}
