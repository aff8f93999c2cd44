"""Emails as rows, one module per concern; front doors import the module they need:

- `kinds`: the kinds of email, the modes, a row's states, a program's reminder hours and default modes;
- `recipients`: a recipient's zone and working hours, and when a message goes out inside them;
- `due`: what is due to whom and when (`schedule`: keys, withdrawals on re-plan, skipped, daily digests);
- `delivery`: the exactly-once claim and send, retries with backoff, interrupted sends (`send_due`);
- `content`: what each kind of message says (`message_context`);
- `preferences`: each person's choices and the one-click unsubscribe tokens;
- `outbox`: the designer's view of every message.
"""
