import { EddyError } from '../../core/errors.ts';
import type { KeyId } from '../../core/key-codec.ts';

/**
 * The key the memory backend is scoped to, shared (by reference) between the backend, its states and
 * its timer queues so that setting the key once per record serves every state access. `keyGroupIndex`
 * is `keyGroup − range.start`, or −1 before the first key is set.
 */
export class CurrentKey {
  key: unknown = undefined;
  keyId: KeyId = null;
  keyGroup = -1;
  keyGroupIndex = -1;

  /** The key-group slot of the current key; throws when no key has been set (an operator bug). */
  requireKeyGroupIndex(stateName: string): number {
    const index = this.keyGroupIndex;
    if (index < 0) {
      throw new EddyError(`keyed state '${stateName}' was accessed before a current key was set`);
    }
    return index;
  }
}
