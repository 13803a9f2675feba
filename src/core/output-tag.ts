import { ConfigurationError } from './errors.ts';

/**
 * Names a side output of type T. Two tags are the same side output iff their ids are equal, so create
 * a tag once (a module-level constant) and pass it both to the function that emits and to
 * `getSideOutput`.
 */
export class OutputTag<T> {
  readonly id: string;
  /** Phantom field carrying T; never set. */
  declare readonly __type?: T;

  constructor(id: string) {
    if (typeof id !== 'string' || id.trim() === '') {
      throw new ConfigurationError('an OutputTag needs a non-empty id, e.g. new OutputTag<Event>("late-events")');
    }
    this.id = id;
  }

  toString(): string {
    return `OutputTag(${this.id})`;
  }
}
