"""What every layer of nova-bm shares and nothing below it: the state
vocabulary. It imports no other nova-bm package."""
