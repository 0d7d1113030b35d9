package ec2sim

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// addressBook records which addresses of one subnet live instances hold, so that a launch finds the lowest free
// address, and DescribeSubnets the number of free ones, without looking at every instance: with thousands of
// instances that look made a scale-up quadratic. The cloud keeps one per subnet, holds an address when an
// instance launches, gives it back when the instance turns terminated, and rebuilds the books from the state file
// on load. Addresses are offsets from the first one an instance may take.
type addressBook struct {
	// first is the subnet's first address after the four AWS reserves; size counts the addresses from there up
	// to, not including, the broadcast address.
	first uint32
	size  int
	// held counts the live instances holding each offset: one, unless a hand-edited state file gave two instances
	// the same address.
	held map[int]int
	// live counts the subnet's live instances, whatever their address (one outside the subnet's range, from a
	// state file written under another config, takes none of its addresses but is still counted).
	live int
	// next is the lowest offset never held since the book was built: every offset from next on is free. freed
	// holds the offsets below next given back since, lowest first; an entry held again since it was pushed is
	// dropped when it comes to the top.
	next  int
	freed offsetHeap
}

func newAddressBook(subnet *SubnetConfig) (*addressBook, error) {
	prefix, err := netip.ParsePrefix(subnet.CIDR)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 28 {
		return nil, fmt.Errorf("subnet %s cidr %q: must be an IPv4 CIDR of /28 or larger", subnet.ID, subnet.CIDR)
	}
	base := prefix.Masked().Addr().As4()
	return &addressBook{
		first: binary.BigEndian.Uint32(base[:]) + 4,
		size:  1<<(32-prefix.Bits()) - 5,
		held:  map[int]int{},
	}, nil
}

// offset is the offset of ip in the book, false when ip is not an address instances of the subnet may take.
func (b *addressBook) offset(ip string) (int, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return 0, false
	}
	a4 := a.As4()
	u := binary.BigEndian.Uint32(a4[:])
	if u < b.first || int64(u-b.first) >= int64(b.size) {
		return 0, false
	}
	return int(u - b.first), true
}

func (b *addressBook) addr(offset int) string {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], b.first+uint32(offset))
	return netip.AddrFrom4(a).String()
}

// lowest is the lowest free address, false when the subnet is full.
func (b *addressBook) lowest() (string, bool) {
	for b.freed.Len() > 0 {
		if off := b.freed[0]; b.held[off] == 0 {
			return b.addr(off), true
		}
		heap.Pop(&b.freed)
	}
	if b.next >= b.size {
		return "", false
	}
	return b.addr(b.next), true
}

// hold records a live instance holding ip.
func (b *addressBook) hold(ip string) {
	b.live++
	off, ok := b.offset(ip)
	if !ok {
		return
	}
	b.held[off]++
	for ; b.next <= off; b.next++ {
		if b.next < off {
			heap.Push(&b.freed, b.next)
		}
	}
}

// release records that a live instance holding ip has terminated.
func (b *addressBook) release(ip string) {
	b.live--
	off, ok := b.offset(ip)
	if !ok || b.held[off] == 0 {
		return
	}
	b.held[off]--
	if b.held[off] == 0 {
		delete(b.held, off)
		heap.Push(&b.freed, off)
	}
}

// free is the number of addresses no live instance holds, as DescribeSubnets' AvailableIpAddressCount counts them.
func (b *addressBook) free() int { return b.size - b.live }

// offsetHeap is a min-heap of offsets (container/heap).
type offsetHeap []int

func (h offsetHeap) Len() int           { return len(h) }
func (h offsetHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h offsetHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *offsetHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *offsetHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// holdAddress records that a live instance holds its address. It runs with c.mu held.
func (c *cloud) holdAddress(i *instance) {
	if b, ok := c.addresses[i.SubnetID]; ok {
		b.hold(i.PrivateIP)
	}
}

// releaseAddress records that an instance has given its address back. It runs with c.mu held.
func (c *cloud) releaseAddress(i *instance) {
	if b, ok := c.addresses[i.SubnetID]; ok {
		b.release(i.PrivateIP)
	}
}
