import { SteadyRate } from '../../bench/steady-rate.js';

/** The benchmark's login and bcrypt-ceiling rates: closed loops counted in their steady state. */
describe('the rate of a closed loop', () => {
  it('counts what ends between every client having ended once and the deadline', () => {
    // Two clients, 1-s window: operations end every 100 ms on each; the drain ends after it.
    const rate = new SteadyRate(2, 1000);
    rate.ended(0, 100); // ramp: client 1 has not ended one yet
    rate.ended(0, 200);
    rate.ended(1, 200); // from here on: steady
    for (let at = 300; at <= 1000; at += 100) {
      rate.ended(0, at);
      rate.ended(1, at);
    }
    rate.ended(0, 1050); // the drain
    rate.ended(1, 1090);

    expect(rate.rate(0)).toBeCloseTo(16 / 0.8);
  });

  it('falls back when the phase is too short to reach a steady state', () => {
    const rate = new SteadyRate(3, 1000);
    rate.ended(0, 400);
    rate.ended(1, 900);
    rate.ended(1, 990);

    expect(rate.rate(4.2)).toBe(4.2);
  });
});
