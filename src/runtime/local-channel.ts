import { InputChannel } from './input-channel.ts';
import { OutputChannel, type ChannelSender } from './output-channel.ts';
import type { ChannelEvent, RecordBatch } from './stream-element.ts';

/**
 * A channel whose two ends run in the same thread: batches are handed over as they are, without
 * serialization, but under the same credits as a remote channel.
 */
export function createLocalChannel(channelId: number, credits: number): { output: OutputChannel; input: InputChannel } {
  let output: OutputChannel | undefined;
  const input = new InputChannel(channelId, (returned) => output!.addCredits(returned));
  output = new OutputChannel(channelId, credits, new LocalSender(input));
  return { output, input };
}

class LocalSender implements ChannelSender {
  constructor(private readonly input: InputChannel) {}

  sendRecords(batch: RecordBatch): number {
    this.input.enqueue(batch);
    return 0;
  }

  sendEvent(event: ChannelEvent): void {
    this.input.enqueue(event);
  }
}
