/*
 * uring_abi.h - private to src/fuse/: the kernel's FUSE-over-io_uring ABI
 * (include/uapi/linux/fuse.h, protocol 7.42, Linux 6.14+), for systems
 * whose <linux/fuse.h> predates it (Debian 12 ships 7.38). Only what
 * transport_uring.c uses; the layouts are the kernel's, checked below.
 *
 * The exchange (fs/fuse/dev_uring.c):
 * - FUSE_INIT: the reply's flags2 carries FUSE_OVER_IO_URING >> 32 when
 *   the daemon wants the ring and the kernel offered it in the request.
 * - Each ring entry is one IORING_OP_URING_CMD on a ring set up with
 *   IORING_SETUP_SQE128, fd = /dev/fuse, cmd_op REGISTER, addr = two
 *   iovecs: a struct fuse_uring_req_header and a payload buffer of at
 *   least max(max_write, max_pages * page size) bytes; the 80-byte command
 *   area holds a struct fuse_uring_cmd_req naming the queue (a CPU number;
 *   there are as many queues as possible CPUs and the ring only carries
 *   requests once every queue has an entry).
 * - The command completes (res 0) when a request was copied in: the
 *   fuse_in_header into in_out, the opcode's first argument into op_in,
 *   the rest into the payload (ring_ent_in_out.payload_sz bytes).
 * - The reply goes the same way back: fuse_out_header into in_out, the
 *   data into the payload, payload_sz set; then COMMIT_AND_FETCH with
 *   commit_id = the request's ring_ent_in_out.commit_id, which both
 *   delivers the reply and re-arms the entry for the next request.
 * - A completion with res < 0 ends the entry: -ENOTCONN when the
 *   connection is torn down (unmount, abort) or the ring is cancelled.
 */
#ifndef UZRAM_FUSE_URING_ABI_H
#define UZRAM_FUSE_URING_ABI_H

#include <linux/fuse.h>
#include <stdint.h>

#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)
#endif

#define UZRAM_URING_IN_OUT_HEADER_SZ 128
#define UZRAM_URING_OP_IN_OUT_SZ 128

struct uzram_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id; /* to give back in the commit */
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct uzram_uring_req_header {
	char in_out[UZRAM_URING_IN_OUT_HEADER_SZ]; /* fuse_in/out_header */
	char op_in[UZRAM_URING_OP_IN_OUT_SZ];	   /* the first argument */
	struct uzram_uring_ent_in_out ring_ent_in_out;
};

enum {
	UZRAM_URING_CMD_REGISTER = 1,
	UZRAM_URING_CMD_COMMIT_AND_FETCH = 2,
};

struct uzram_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

_Static_assert(sizeof(struct uzram_uring_ent_in_out) == 32, "kernel ABI");
_Static_assert(sizeof(struct uzram_uring_req_header) == 288, "kernel ABI");
_Static_assert(sizeof(struct uzram_uring_cmd_req) == 24, "kernel ABI");

#endif
