/* Kernel-like types for dwarftypes tests. Rebuild with ./build.sh. */
struct list_head {
	struct list_head *next, *prev;
};

struct notifier_block;
typedef int (*notifier_fn_t)(struct notifier_block *nb, unsigned long action, void *data);

struct notifier_block {
	notifier_fn_t notifier_call;
	struct notifier_block *next;
	int priority;
};

typedef struct {
	int counter;
} atomic_t;

enum lab_state { LAB_DEAD = -1, LAB_IDLE, LAB_BUSY = 7 };

struct opaque;

struct lab_flags {
	unsigned int a : 3, b : 5;
	int s : 4;
	unsigned int wide : 20;
	unsigned long long big : 60;
	union {
		long l;
		char c[8];
	};
	const char name[16];
	enum lab_state st;
	atomic_t refs;
	struct list_head list;
	char *comm;
	struct {
		int x, y;
	} pt;
	volatile unsigned long flags2;
	struct opaque *op;
	int grid[2][3];
	_Bool ok;
	char tail[];
};

struct lab_flags lab_flags_var;
struct notifier_block nb_var;
