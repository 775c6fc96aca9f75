"""Tables, repositories and event consumers of the central kitchen."""
