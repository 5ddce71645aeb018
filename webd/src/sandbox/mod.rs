//! webd's sandbox: the ordered confinement steps applied in `main` before
//! any thread starts.
