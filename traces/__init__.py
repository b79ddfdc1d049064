"""Input traces (arrivals, link capacity, SNR) and per-request output traces."""
