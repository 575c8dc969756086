"""Enrolment: what an operator says a node is, checked before anything is
written (node specs, Ironic-compatible node files, bounded loading)."""
