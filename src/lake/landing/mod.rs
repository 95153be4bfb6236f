//! The landing zone: each source's raw files as they arrived. Sensor files are rows of the Delta
//! table `landing.sensor_files` (`sensor_table`, written back by `export`); forecast files are
//! files, handed to bronze through a queue. Sources write landing, bronze reads it.

pub mod export;
pub mod sensor_table;
pub mod sensors;
pub mod weather;
