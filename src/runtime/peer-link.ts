import type { MessagePort } from 'node:worker_threads';
import { EddyError, assertNever } from '../core/errors.ts';
import { BatchSerializer } from './batch-serializer.ts';
import { InputChannel } from './input-channel.ts';
import { OutputChannel, type ChannelSender } from './output-channel.ts';
import type { ChannelEvent, RecordBatch } from './stream-element.ts';

/** What crosses a {@link PeerLink}'s port. Batches are transferred ArrayBuffers, never cloned. */
export type PeerMessage =
  | { readonly kind: 'records'; readonly channelId: number; readonly buffer: ArrayBuffer }
  | { readonly kind: 'event'; readonly channelId: number; readonly event: ChannelEvent }
  | { readonly kind: 'credit'; readonly channelId: number; readonly credits: number };

/**
 * The data connection between two worker threads: one MessagePort pair per pair of workers, carrying
 * every channel between them, multiplexed by channel id. Batches go one way, credits the other.
 */
export class PeerLink {
  private readonly inputs = new Map<number, InputChannel>();
  private readonly outputs = new Map<number, OutputChannel>();
  private readonly serializer = new BatchSerializer();

  constructor(
    private readonly port: MessagePort,
    private readonly onError: (error: unknown) => void,
  ) {
    port.on('message', (message: PeerMessage) => {
      try {
        this.dispatch(message);
      } catch (error) {
        this.onError(error);
      }
    });
  }

  /** The producer end of a channel whose consumer runs on the other side. */
  createOutput(channelId: number, credits: number): OutputChannel {
    const output = new OutputChannel(channelId, credits, new RemoteSender(this.port, channelId, this.serializer));
    this.outputs.set(channelId, output);
    return output;
  }

  /** The consumer end of a channel whose producer runs on the other side. */
  createInput(channelId: number): InputChannel {
    const port = this.port;
    const input = new InputChannel(channelId, (credits) => {
      const message: PeerMessage = { kind: 'credit', channelId, credits };
      port.postMessage(message);
    });
    this.inputs.set(channelId, input);
    return input;
  }

  close(): void {
    this.port.removeAllListeners('message');
    this.port.close();
  }

  private dispatch(message: PeerMessage): void {
    switch (message.kind) {
      case 'records':
        this.inputOf(message.channelId).enqueue(this.serializer.deserialize(message.buffer));
        return;
      case 'event':
        this.inputOf(message.channelId).enqueue(message.event);
        return;
      case 'credit': {
        const output = this.outputs.get(message.channelId);
        if (output === undefined) throw new EddyError(`credit for unknown channel ${message.channelId}`);
        output.addCredits(message.credits);
        return;
      }
      default:
        assertNever(message, 'peer message');
    }
  }

  private inputOf(channelId: number): InputChannel {
    const input = this.inputs.get(channelId);
    if (input === undefined) throw new EddyError(`data for unknown channel ${channelId}`);
    return input;
  }
}

class RemoteSender implements ChannelSender {
  constructor(
    private readonly port: MessagePort,
    private readonly channelId: number,
    private readonly serializer: BatchSerializer,
  ) {}

  sendRecords(batch: RecordBatch): number {
    const buffer = this.serializer.serialize(batch.values, batch.timestamps, batch.length);
    const message: PeerMessage = { kind: 'records', channelId: this.channelId, buffer };
    this.port.postMessage(message, [buffer]);
    return buffer.byteLength;
  }

  sendEvent(event: ChannelEvent): void {
    const message: PeerMessage = { kind: 'event', channelId: this.channelId, event };
    this.port.postMessage(message);
  }
}
