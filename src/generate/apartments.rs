//! The synthetic apartments: which devices each has (plugs and their appliances, doors and
//! windows, motion sensors, weather stations), in the two styles of the real houses' files.

use super::names::{FIRST_NAMES, LAST_NAMES};

/// Appliance behind a plug.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Appliance {
    Computer,
    Television,
    Dishwasher,
    Dryer,
    WashingMachine,
    Fridge,
    Lamp,
}

#[derive(Debug, Clone)]
pub(super) struct Plug {
    pub(super) room: &'static str,
    pub(super) appliance: Appliance,
    pub(super) has_temperature: bool,
}

#[derive(Debug, Clone)]
pub(super) struct DoorRoom {
    pub(super) room: &'static str,
    /// Opening types as written in files ("door", "Window", ...).
    pub(super) openings: Vec<&'static str>,
    /// Written as a single object instead of an array.
    pub(super) single_object: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Station {
    /// Main indoor station: every measure, no battery.
    Main,
    /// Indoor module: CO2 and temperature, battery.
    Module,
    /// Outdoor module: temperature and humidity, battery.
    Outdoor,
}

/// The devices of one apartment.
#[derive(Debug, Clone)]
pub struct ApartmentProfile {
    pub house: String,
    pub apartment: String,
    pub(super) index: u32,
    pub(super) plugs: Vec<Plug>,
    pub(super) doors: Vec<DoorRoom>,
    pub(super) motions: Vec<&'static str>,
    pub(super) meteo_level: bool,
    pub(super) meteos: Vec<(&'static str, Station)>,
    pub(super) humidities: Vec<&'static str>,
}

impl ApartmentProfile {
    fn style_a(house: String, apartment: String, index: u32) -> Self {
        Self {
            house,
            apartment,
            index,
            plugs: vec![
                Plug {
                    room: "Office",
                    appliance: Appliance::Computer,
                    has_temperature: true,
                },
                Plug {
                    room: "Livingroom",
                    appliance: Appliance::Television,
                    has_temperature: true,
                },
                Plug {
                    room: "Dishwasher",
                    appliance: Appliance::Dishwasher,
                    has_temperature: false,
                },
                Plug {
                    room: "Dryer",
                    appliance: Appliance::Dryer,
                    has_temperature: false,
                },
                Plug {
                    room: "WashingMachine",
                    appliance: Appliance::WashingMachine,
                    has_temperature: false,
                },
            ],
            doors: vec![
                DoorRoom {
                    room: "Office",
                    openings: vec!["window", "door"],
                    single_object: false,
                },
                DoorRoom {
                    room: "Bhroom",
                    openings: vec!["door", "window"],
                    single_object: false,
                },
                DoorRoom {
                    room: "Bdroom",
                    openings: vec!["window", "door"],
                    single_object: false,
                },
            ],
            motions: vec!["Livingroom", "Office", "Kitchen", "Outside"],
            meteo_level: true,
            meteos: vec![
                ("Livingroom", Station::Main),
                ("Office", Station::Module),
                ("Bdroom", Station::Module),
                ("Outdoor", Station::Outdoor),
            ],
            humidities: vec!["Bhroom"],
        }
    }

    fn style_b(house: String, apartment: String, index: u32) -> Self {
        Self {
            house,
            apartment,
            index,
            plugs: vec![
                Plug {
                    room: "Livingroom",
                    appliance: Appliance::Television,
                    has_temperature: true,
                },
                Plug {
                    room: "Kitchen",
                    appliance: Appliance::Fridge,
                    has_temperature: true,
                },
                Plug {
                    room: "Office",
                    appliance: Appliance::Computer,
                    has_temperature: false,
                },
                Plug {
                    room: "Dishwasher",
                    appliance: Appliance::Dishwasher,
                    has_temperature: false,
                },
                Plug {
                    room: "WashingMachine",
                    appliance: Appliance::WashingMachine,
                    has_temperature: false,
                },
                // A device name used as a room key.
                Plug {
                    room: "Plug-7F3A",
                    appliance: Appliance::Lamp,
                    has_temperature: false,
                },
            ],
            doors: vec![
                DoorRoom {
                    room: "Laundry",
                    openings: vec!["Door"],
                    single_object: true,
                },
                DoorRoom {
                    room: "Bdroom",
                    openings: vec!["Window", "door"],
                    single_object: false,
                },
                // Two windows in one room: the silver key resolves them deterministically.
                DoorRoom {
                    room: "Livingroom",
                    openings: vec!["window", "window"],
                    single_object: false,
                },
            ],
            motions: vec!["Kitchen", "Livingroom", "Office"],
            meteo_level: false,
            meteos: vec![
                ("Livingroom", Station::Main),
                ("Bdroom", Station::Module),
                ("Outdoor", Station::Outdoor),
            ],
            humidities: vec!["Bhroom"],
        }
    }
}

/// The apartments of a data set: the two real houses first, then generated ones.
pub fn profiles(count: u32) -> Vec<ApartmentProfile> {
    (0..count)
        .map(|i| {
            let (house, apartment) = match i {
                0 => ("JimmyLoup".to_string(), "jimmy".to_string()),
                1 => ("JeremieVianin".to_string(), "jeremie".to_string()),
                _ => {
                    let first = FIRST_NAMES[i as usize % FIRST_NAMES.len()];
                    let last = LAST_NAMES[(i as usize / FIRST_NAMES.len()) % LAST_NAMES.len()];
                    let house: String = format!("{first}{last}{i:03}")
                        .chars()
                        .filter(char::is_ascii_alphanumeric)
                        .collect();
                    (house, format!("apt{i:03}"))
                }
            };
            if i % 2 == 0 {
                ApartmentProfile::style_a(house, apartment, i)
            } else {
                ApartmentProfile::style_b(house, apartment, i)
            }
        })
        .collect()
}
