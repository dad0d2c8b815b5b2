"""What a chat holds: open-webui's message tree, and the exchanges stored into it."""
