"""Email in and out: raw RFC 5322 messages to tickets (over HTTP or SMTP), threading, auto-reply
detection, and agents' replies mailed with our Message-IDs."""
