"""Reading an email: its MIME parts, charsets, containers, addresses and thread references."""
