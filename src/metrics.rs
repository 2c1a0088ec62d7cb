//! Metrics: per-worker plain counters, summed into the Prometheus registry on scrape.
