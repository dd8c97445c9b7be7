//! Access rights of one sandbox entry, in the words a makefile author uses
//! (`r`, `w`, `x`, `c`, `t`), and their translation to Landlock access bits.

use landlock::{AccessFs, BitFlags};
use std::fmt;

/// A set of rights on a path (and, for a directory, everything beneath it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rights(u8);

impl Rights {
    pub const NONE: Rights = Rights(0);
    /// Read files and list directories (listing included: see `LIST`).
    pub const READ: Rights = Rights(1 | 32);
    /// Write into existing files (and ioctl on devices).
    pub const WRITE: Rights = Rights(2);
    /// Execute files.
    pub const EXEC: Rights = Rights(4);
    /// Make and remove files and directories, rename and link them (REFER).
    pub const CREATE: Rights = Rights(8);
    /// Truncate existing files (`>` redirection, `O_TRUNC`, `ftruncate`).
    pub const TRUNCATE: Rights = Rights(16);
    /// List directories, read no file: an order-only directory prerequisite
    /// (`| obj`), whose existence a step needs, not its files.
    pub const LIST: Rights = Rights(32);

    pub const RX: Rights = Rights::READ.union(Rights::EXEC);
    pub const RW: Rights = Rights::READ.union(Rights::WRITE).union(Rights::TRUNCATE);

    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The rights of one `.UNVEIL` permission letter; `w` includes truncation
    /// because the author asked for write access explicitly.
    pub fn from_letter(c: char) -> Option<Rights> {
        Some(match c {
            'r' => Rights::READ,
            'w' => Rights::WRITE.union(Rights::TRUNCATE),
            'x' => Rights::EXEC,
            'c' => Rights::CREATE,
            _ => return None,
        })
    }

    /// The Landlock rights for a directory (`is_dir`) or a single file.
    pub fn access_fs(self, is_dir: bool) -> BitFlags<AccessFs> {
        let mut a = BitFlags::<AccessFs>::EMPTY;
        if self.contains(Rights::READ) {
            a |= AccessFs::ReadFile;
            if is_dir {
                a |= AccessFs::ReadDir;
            }
        } else if self.contains(Rights::LIST) && is_dir {
            a |= AccessFs::ReadDir;
        }
        if self.contains(Rights::WRITE) {
            // Connecting to a named UNIX socket is a kind of writing to it.
            a |= AccessFs::WriteFile | AccessFs::IoctlDev;
            if is_dir {
                a |= AccessFs::ResolveUnix;
            }
        }
        if self.contains(Rights::EXEC) {
            a |= AccessFs::Execute;
        }
        if self.contains(Rights::TRUNCATE) {
            a |= AccessFs::Truncate;
        }
        if self.contains(Rights::CREATE) && is_dir {
            // Device nodes are never needed by a build: MakeChar/MakeBlock stay denied.
            a |= AccessFs::MakeReg
                | AccessFs::MakeDir
                | AccessFs::MakeSym
                | AccessFs::MakeFifo
                | AccessFs::MakeSock
                | AccessFs::RemoveFile
                | AccessFs::RemoveDir
                | AccessFs::Refer;
        }
        a
    }
}

impl std::ops::BitOr for Rights {
    type Output = Rights;
    fn bitor(self, rhs: Rights) -> Rights {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for Rights {
    fn bitor_assign(&mut self, rhs: Rights) {
        *self = self.union(rhs);
    }
}

/// Five columns, `rwxct`, with `-` for a missing right: `r-x--`, `rwxc-`;
/// `l----` for listing only.
impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.contains(Rights::LIST) && !self.contains(Rights::READ) {
            write!(f, "l")?;
        } else {
            write!(
                f,
                "{}",
                if self.contains(Rights::READ) {
                    'r'
                } else {
                    '-'
                }
            )?;
        }
        let cols = [
            (Rights::WRITE, 'w'),
            (Rights::EXEC, 'x'),
            (Rights::CREATE, 'c'),
            (Rights::TRUNCATE, 't'),
        ];
        for (r, c) in cols {
            write!(f, "{}", if self.contains(r) { c } else { '-' })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_columns() {
        assert_eq!(Rights::RX.to_string(), "r-x--");
        assert_eq!(Rights::RW.to_string(), "rw--t");
        assert_eq!((Rights::RX | Rights::CREATE).to_string(), "r-xc-");
        assert_eq!(Rights::LIST.to_string(), "l----");
        assert!(Rights::READ.contains(Rights::LIST));
        assert!(!Rights::LIST.contains(Rights::READ));
    }

    #[test]
    fn listing_is_reading_a_directory_only() {
        assert_eq!(Rights::LIST.access_fs(true), AccessFs::ReadDir);
        assert!(Rights::LIST.access_fs(false).is_empty());
    }

    #[test]
    fn files_get_only_file_rights() {
        let all = Rights::RW | Rights::EXEC | Rights::CREATE;
        assert!(!all.access_fs(false).contains(AccessFs::MakeReg));
        assert!(!all.access_fs(false).contains(AccessFs::ReadDir));
        assert!(all
            .access_fs(true)
            .contains(AccessFs::MakeReg | AccessFs::Refer));
        assert!(!Rights::CREATE.access_fs(true).contains(AccessFs::Truncate));
    }
}
