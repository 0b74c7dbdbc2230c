"""SLA clocks in business time: pure computation, no store, no broker.

- `policies`: `PolicySet.select(TicketAttributes)` picks a ticket's `SlaPolicy` (first match by
  position, else the default); its `SlaTargets` are business seconds on the calendar it names.
- `calendar`: `BusinessCalendar(CalendarDefinition)` does the arithmetic on aware instants.
- `clock`: `evaluate(timeline=..., targets=..., calendar=..., now=...)` gives each target's due
  and warning instants, elapsed and remaining business time and state.

The rules:
- Holidays (listed dates, and a country's or subdivision's public holidays with their observed
  days from the `holidays` package) remove the intervals that START on that local date: Friday
  22:00-02:00 counts whole when Saturday is a holiday and not at all when Friday is.
- DST: interval bounds are wall times in the calendar's zone; the business time inside an
  interval is the real time between them. A skipped wall time means the instant of the jump, a
  repeated one its first occurrence (09:00-17:00 is always 8 hours; 00:00-06:00 is 5 hours on a
  spring-forward night in Europe, 7 on a fall-back one).
- Pauses (pending, on hold) stop every clock; the due instant moves on by the business time the
  pause covered, so a pause over a night or a weekend changes nothing.
- `due_at` is the breach instant: a reply at or after it is late. While paused before the target
  is used up, `due_at` is None.
- The warning comes when the policy's `warning_lead_seconds` of business time are left.
- Nothing is carried between evaluations: after any change to the timeline, the policy, its
  targets or the calendar, evaluate again; a policy change counts the new targets from the
  ticket's creation, and instants already past are due at once. `SlaStatus.next_alert_at` is
  when to evaluate next if nothing changes; keep it on the ticket so a restarted scheduler finds
  it.
"""
