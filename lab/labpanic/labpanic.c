// SPDX-License-Identifier: GPL-2.0
/*
 * labpanic: crash triggers for the panicscope lab (lab/lab.sh builds it per
 * kernel in a chroot of the kernel's Debian suite, so the module is built by
 * the compiler that built the kernel).
 *
 * Writing a word to /proc/labpanic:
 *   oops   write through a NULL pointer: page fault, oops, then oops_end()
 *          decides (panic_on_oops, kexec_should_crash())
 *   panic  panic() from the module
 *   warn   WARN_ON(1): panics with panic_on_warn
 *   bug    BUG()
 *   panic2 panic() on every CPU at once: an IPI makes the others call panic()
 *          while this one does; one wins panic_cpu, the others stop
 *          (panic_smp_self_stop())
 *
 * notifier=hang registers a panic notifier that never returns, notifier=fault
 * one that writes through a NULL pointer; by default there is none.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/panic_notifier.h>
#include <linux/uaccess.h>
#include <linux/delay.h>
#include <linux/string.h>

static char *notifier = "";
module_param(notifier, charp, 0444);
MODULE_PARM_DESC(notifier, "hang or fault: a panic notifier that never returns or that faults");

static noinline void labpanic_do_oops(void)
{
	*(volatile int *)NULL = 1;
}

static noinline void labpanic_do_panic(void)
{
	panic("labpanic: deliberate panic from %s", __func__);
}

static void labpanic_ipi_panic(void *unused)
{
	panic("labpanic: panic from CPU %d (IPI)", smp_processor_id());
}

static noinline void labpanic_do_panic2(void)
{
	smp_call_function(labpanic_ipi_panic, NULL, 0);
	panic("labpanic: panic from CPU %d (trigger)", raw_smp_processor_id());
}

static noinline void labpanic_do_warn(void)
{
	WARN_ON(1);
}

static noinline void labpanic_do_bug(void)
{
	BUG();
}

static int labpanic_notify_hang(struct notifier_block *nb, unsigned long event, void *msg)
{
	pr_emerg("labpanic: panic notifier hangs\n");
	for (;;)
		mdelay(100);
	return NOTIFY_DONE;
}

static int labpanic_notify_fault(struct notifier_block *nb, unsigned long event, void *msg)
{
	pr_emerg("labpanic: panic notifier faults\n");
	*(volatile int *)NULL = 2;
	return NOTIFY_DONE;
}

static struct notifier_block labpanic_nb;

static noinline ssize_t labpanic_trigger(struct file *file, const char __user *buf, size_t n, loff_t *pos)
{
	char cmd[16] = {};

	if (copy_from_user(cmd, buf, min(n, sizeof(cmd) - 1)))
		return -EFAULT;
	strim(cmd);
	pr_info("labpanic: trigger=%s\n", cmd);
	if (!strcmp(cmd, "oops"))
		labpanic_do_oops();
	else if (!strcmp(cmd, "panic"))
		labpanic_do_panic();
	else if (!strcmp(cmd, "panic2"))
		labpanic_do_panic2();
	else if (!strcmp(cmd, "warn"))
		labpanic_do_warn();
	else if (!strcmp(cmd, "bug"))
		labpanic_do_bug();
	else
		return -EINVAL;
	return n;
}

static const struct proc_ops labpanic_ops = {
	.proc_write = labpanic_trigger,
};

static int __init labpanic_init(void)
{
	if (!strcmp(notifier, "hang"))
		labpanic_nb.notifier_call = labpanic_notify_hang;
	else if (!strcmp(notifier, "fault"))
		labpanic_nb.notifier_call = labpanic_notify_fault;
	if (!proc_create("labpanic", 0200, NULL, &labpanic_ops))
		return -ENOMEM;
	if (labpanic_nb.notifier_call)
		atomic_notifier_chain_register(&panic_notifier_list, &labpanic_nb);
	return 0;
}

static void __exit labpanic_exit(void)
{
	if (labpanic_nb.notifier_call)
		atomic_notifier_chain_unregister(&panic_notifier_list, &labpanic_nb);
	remove_proc_entry("labpanic", NULL);
}

module_init(labpanic_init);
module_exit(labpanic_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("panicscope lab crash triggers");
