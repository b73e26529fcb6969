"""Workers: lease runs from queues, execute them, report every state change, fenced."""
