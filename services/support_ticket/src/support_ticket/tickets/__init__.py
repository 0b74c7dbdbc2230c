"""Tickets and their threads: numbers, statuses, history, messages, attachments, custom fields,
and the ticket events kept in each ticket until relayed to crm.tickets.v1."""
