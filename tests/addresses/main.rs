//! Address parsing: published test vectors, the OFAC SDN list, robustness.
mod ofac;
mod robustness;
mod vectors;
