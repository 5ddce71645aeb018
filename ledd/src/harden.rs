//! ledd's hardening after the hardware is initialised.
