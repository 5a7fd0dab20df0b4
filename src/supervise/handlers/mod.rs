//! One file per syscall family. Each declares which argument is a path, a
//! dirfd, flags or an address, and follows one path: decode → read memory →
//! check the caller is still there → resolve → check the policy → act →
//! reply.

pub mod describe;
pub mod exec;
pub mod kernel_writes;
pub mod magic;
pub mod mutate;
pub mod namespace;
pub mod net;
pub mod open;
pub mod stat;
pub mod tree;

use super::call::{Call, Reply};
use crate::filter;
use stat::Kind;

/// Setxattrat and friends are newer than the libc crate's tables.
const SYS_SETXATTRAT: i64 = 463;
const SYS_GETXATTRAT: i64 = 464;
const SYS_LISTXATTRAT: i64 = 465;
const SYS_REMOVEXATTRAT: i64 = 466;
const SYS_FCHMODAT2: i64 = 452;

/// clone(2): the filter sends it for CLONE_NEWUSER (a new user namespace)
/// and for CLONE_PARENT (`lock:exec` ancestry); each flag has its judge.
fn clone(call: &Call) -> super::call::Step<Reply> {
    let flags = call.arg(0);
    if flags & libc::CLONE_NEWUSER as u64 != 0 {
        // Refuses (EPERM), or lets the flag through.
        namespace::new_namespace(call)?;
    }
    if flags & libc::CLONE_PARENT as u64 != 0 {
        return tree::clone(call);
    }
    Ok(Reply::ContinueRacy)
}

/// Routes a notification to its handler.
pub fn dispatch(call: &Call) -> Reply {
    let result = match call.n.nr {
        libc::SYS_open => open::open(call),
        libc::SYS_openat => open::openat(call),
        libc::SYS_openat2 => open::openat2(call),
        libc::SYS_creat => open::creat(call),
        libc::SYS_mkdir => mutate::mkdir(call, false),
        libc::SYS_mkdirat => mutate::mkdir(call, true),
        libc::SYS_mknod => mutate::mknod(call, false),
        libc::SYS_mknodat => mutate::mknod(call, true),
        libc::SYS_rmdir => mutate::rmdir(call),
        libc::SYS_unlink => mutate::unlink(call, false),
        libc::SYS_unlinkat => mutate::unlink(call, true),
        libc::SYS_symlink => mutate::symlink(call, false),
        libc::SYS_symlinkat => mutate::symlink(call, true),
        libc::SYS_rename => mutate::rename(call, 0),
        libc::SYS_renameat => mutate::rename(call, 1),
        libc::SYS_renameat2 => mutate::rename(call, 2),
        libc::SYS_link => mutate::link(call, false),
        libc::SYS_linkat => mutate::link(call, true),
        libc::SYS_truncate => mutate::truncate(call),
        libc::SYS_chmod => mutate::chmod(call, 0),
        libc::SYS_fchmodat => mutate::chmod(call, 1),
        SYS_FCHMODAT2 => mutate::chmod(call, 2),
        libc::SYS_chown => mutate::chown(call, 0),
        libc::SYS_lchown => mutate::chown(call, 1),
        libc::SYS_fchownat => mutate::chown(call, 2),
        libc::SYS_utime => mutate::utimes(call, 0),
        libc::SYS_utimes => mutate::utimes(call, 1),
        libc::SYS_futimesat => mutate::utimes(call, 2),
        libc::SYS_utimensat => mutate::utimes(call, 3),
        libc::SYS_setxattr => mutate::path_xattr(call, true, true),
        libc::SYS_lsetxattr => mutate::path_xattr(call, true, false),
        libc::SYS_removexattr => mutate::path_xattr(call, false, true),
        libc::SYS_lremovexattr => mutate::path_xattr(call, false, false),
        SYS_SETXATTRAT => mutate::xattr_at(call, true),
        SYS_REMOVEXATTRAT => mutate::xattr_at(call, false),
        filter::SYS_FILE_SETATTR => mutate::file_setattr(call),
        filter::SYS_FILE_GETATTR => stat::handle(call, Kind::FileGetattr),
        libc::SYS_fchmod => mutate::fchmod(call),
        libc::SYS_fchown => mutate::fchown(call),
        libc::SYS_fsetxattr => mutate::fd_xattr(call, true),
        libc::SYS_fremovexattr => mutate::fd_xattr(call, false),
        libc::SYS_bind => net::bind(call),
        libc::SYS_connect => net::connect(call),
        libc::SYS_sendto => net::sendto(call),
        libc::SYS_sendmsg => net::sendmsg(call),
        libc::SYS_sendmmsg => net::sendmmsg(call),
        libc::SYS_execve => exec::handle(call, false),
        libc::SYS_execveat => exec::handle(call, true),
        libc::SYS_memfd_create => exec::memfd_create(call),
        libc::SYS_stat => stat::handle(call, Kind::Stat),
        libc::SYS_lstat => stat::handle(call, Kind::Lstat),
        libc::SYS_newfstatat => stat::handle(call, Kind::Newfstatat),
        libc::SYS_statx => stat::handle(call, Kind::Statx),
        libc::SYS_access => stat::handle(call, Kind::Access),
        libc::SYS_faccessat => stat::handle(call, Kind::Faccessat),
        libc::SYS_faccessat2 => stat::handle(call, Kind::Faccessat2),
        libc::SYS_readlink => stat::handle(call, Kind::Readlink),
        libc::SYS_readlinkat => stat::handle(call, Kind::Readlinkat),
        libc::SYS_getxattr => stat::handle(call, Kind::Getxattr(true)),
        libc::SYS_lgetxattr => stat::handle(call, Kind::Getxattr(false)),
        libc::SYS_listxattr => stat::handle(call, Kind::Listxattr(true)),
        libc::SYS_llistxattr => stat::handle(call, Kind::Listxattr(false)),
        SYS_GETXATTRAT => stat::handle(call, Kind::Getxattrat),
        SYS_LISTXATTRAT => stat::handle(call, Kind::Listxattrat),
        libc::SYS_chdir => stat::handle(call, Kind::Chdir),
        libc::SYS_ptrace => tree::ptrace(call),
        libc::SYS_process_vm_readv => tree::process_vm(call, false),
        libc::SYS_process_vm_writev => tree::process_vm(call, true),
        libc::SYS_pidfd_getfd => tree::pidfd_getfd(call),
        libc::SYS_kill => tree::kill(call),
        libc::SYS_tkill => tree::tkill(call),
        libc::SYS_tgkill | libc::SYS_rt_tgsigqueueinfo => tree::tgkill(call),
        libc::SYS_rt_sigqueueinfo => tree::rt_sigqueueinfo(call),
        libc::SYS_pidfd_send_signal => tree::pidfd_send_signal(call),
        libc::SYS_clone => clone(call),
        libc::SYS_prctl => tree::prctl(call),
        libc::SYS_unshare => namespace::new_namespace(call),
        libc::SYS_setns => namespace::setns(call),
        libc::SYS_acct => kernel_writes::acct(call),
        libc::SYS_ioctl => kernel_writes::ioctl(call),
        libc::SYS_setrlimit | libc::SYS_prlimit64 => kernel_writes::core_limit(call),
        // The filter sends nothing else; fail closed if it ever does.
        _ => Ok(Reply::Error(crate::sys::Errno(libc::ENOSYS))),
    };
    result.unwrap_or_else(|reply| reply)
}
