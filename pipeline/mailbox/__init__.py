"""Mailbox back-ends behind one interface: where mail comes from and how it is sent."""
