"""The node's serial console: IPMI Serial-over-LAN, as Nova's serial
console and console log (see ``manager.ConsoleManager``)."""
