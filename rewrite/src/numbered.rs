//! Enums over one-byte protocol numbers that keep every value: the named ones as
//! variants, the rest as `Other(u8)`, so a conversion never loses or invents a number.

/// Defines `$enum` with the listed variants and `Other(u8)`, `From<u8>`, `From<$enum>
/// for u8`, and `name()` (the text given per variant).
macro_rules! numbered {
    (
        $(#[$meta:meta])* $vis:vis enum $enum:ident {
            $($(#[$doc:meta])* $name:ident = $number:literal, $text:literal;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $enum {
            $($(#[$doc])* $name,)*
            /// Any other value.
            Other(u8),
        }

        impl From<u8> for $enum {
            #[inline]
            fn from(number: u8) -> $enum {
                match number {
                    $($number => $enum::$name,)*
                    other => $enum::Other(other),
                }
            }
        }

        impl From<$enum> for u8 {
            fn from(value: $enum) -> u8 {
                value.number()
            }
        }

        impl $enum {
            /// The value's byte (usable in constants).
            #[inline]
            pub const fn number(self) -> u8 {
                match self {
                    $($enum::$name => $number,)*
                    $enum::Other(n) => n,
                }
            }

            /// The value's name; `None` for `Other`.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $($enum::$name => Some($text),)*
                    $enum::Other(_) => None,
                }
            }
        }
    };
}

pub(crate) use numbered;
