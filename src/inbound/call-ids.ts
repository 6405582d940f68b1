import { newId } from '../ids.js'

const PREFIX = 'cal'
// `cal_` and the 10 characters of the millisecond time part (see src/ids.ts).
const TIME_PART_END = PREFIX.length + 1 + 10

/** A call id made from its receipt time, so id order is time order. */
export const newCallId = (receivedAt: Date) => newId(PREFIX, receivedAt.getTime())

/**
 * The smallest id a call received at `at` can have: time ranges of the call
 * log become id ranges, which the (handler_id, id) index serves directly.
 */
export const callIdBound = (at: Date) => newId(PREFIX, at.getTime()).slice(0, TIME_PART_END)
