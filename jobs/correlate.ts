import { defineJob, durationArg, OutputTag, pathArg, WatermarkStrategy, z } from 'eddy';
import type { Collector, ProcessJoinContext, ProcessJoinFunction } from 'eddy';
import { fileSink, fileSource, jsonLines } from 'eddy/connectors/file';

/**
 * Correlating two streams: each order joins the payments of the same orderId whose timestamp lies in
 * [order.ts, order.ts + within] (an interval join). An order with no payment in time goes to
 * --unmatched once the watermark reaches order.ts + within. Each order line is its own order, even if
 * an orderId repeats. Orders and payments more than --allowed-lateness behind the watermark go to
 * --late-output; an unmatched order is reported once the watermark passes order.ts + within + lateness.
 */
const Order = z.object({ orderId: z.union([z.string(), z.number()]), ts: z.number().int() }).loose();
const Payment = z.object({ orderId: z.union([z.string(), z.number()]), ts: z.number().int() }).loose();
type Order = z.infer<typeof Order>;
type Payment = z.infer<typeof Payment>;

export interface Match {
  readonly orderId: string | number;
  readonly orderTs: number;
  readonly paymentTs: number;
}

const UNMATCHED = new OutputTag<Order>('unmatched-orders');
const LATE_ORDERS = new OutputTag<Order>('late-orders');
const LATE_PAYMENTS = new OutputTag<Payment>('late-payments');

export const job = defineJob({
  name: 'correlate',
  description: 'Joins each order with the payments of the same orderId within an hour; reports unpaid orders.',
  args: z.object({
    orders: pathArg().describe('JSON lines {orderId, ts}'),
    payments: pathArg().describe('JSON lines {orderId, ts}'),
    output: pathArg().describe('file for the matches {orderId, orderTs, paymentTs}'),
    unmatched: pathArg().describe('file for the orders without a payment in time (as read)'),
    within: durationArg('1h').describe('how long after an order its payment may come'),
    outOfOrderness: durationArg('5m').describe('how far out of order each input may be'),
    allowedLateness: durationArg('0ms').describe('how far behind the watermark an order or payment still joins'),
    lateOutput: pathArg().optional().describe('file for orders and payments that came too late (as read)'),
  }),
  build(env, args) {
    const orders = env.fromSource(
      fileSource({ path: args.orders, format: jsonLines({ schema: Order }) }),
      WatermarkStrategy.forBoundedOutOfOrderness<Order>(args.outOfOrderness).withTimestampAssigner((order) => order.ts),
      { uid: 'orders' },
    );
    const payments = env.fromSource(
      fileSource({ path: args.payments, format: jsonLines({ schema: Payment }) }),
      WatermarkStrategy.forBoundedOutOfOrderness<Payment>(args.outOfOrderness).withTimestampAssigner(
        (payment) => payment.ts,
      ),
      { uid: 'payments' },
    );
    const matches = orders
      .keyBy((order) => order.orderId)
      .intervalJoin(payments.keyBy((payment) => payment.orderId))
      .between(0, args.within)
      .allowedLateness(args.allowedLateness)
      .sideOutputLeftUnmatched(UNMATCHED)
      .sideOutputLeftLateData(LATE_ORDERS)
      .sideOutputRightLateData(LATE_PAYMENTS)
      .process(new ToMatch())
      .uid('join-orders-payments')
      .name('join orders with payments');
    matches.sinkTo(fileSink<Match>({ path: args.output, format: 'json-lines' }), { uid: 'matches', parallelism: 1 });
    matches
      .getSideOutput(UNMATCHED)
      .sinkTo(fileSink<Order>({ path: args.unmatched, format: 'json-lines' }), { uid: 'unmatched', parallelism: 1 });
    if (args.lateOutput !== undefined) {
      const lateOrders = matches.getSideOutput(LATE_ORDERS);
      const latePayments = matches.getSideOutput(LATE_PAYMENTS);
      lateOrders
        .union(latePayments)
        .sinkTo(fileSink<Order | Payment>({ path: args.lateOutput, format: 'json-lines' }), { uid: 'late', parallelism: 1 });
    }
  },
});

class ToMatch implements ProcessJoinFunction<Order, Payment, Match> {
  processElement(order: Order, payment: Payment, _context: ProcessJoinContext, out: Collector<Match>): void {
    out.collect({ orderId: order.orderId, orderTs: order.ts, paymentTs: payment.ts });
  }
}
