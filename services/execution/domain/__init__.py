"""Execution's pure core: order and withdrawal records, fill prices and fees, and what a
venue's answer means. No I/O, no clock."""
