"""HTTP and websocket endpoints: parse, identify the caller, call one service, render."""
