"""The administrator's console (`masp web`, SPEC R17 and §5): server-rendered pages over the
same steps the commands use."""
