package suppress

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// magic starts a saved Memory; the version is its last byte.
const magic = "intercom-actions memory\x01"

// maxID bounds an id read back, against a damaged file.
const maxID = 1 << 10

// Save writes the Memory to path, least recently used first, so that Load
// gives the same order: a new file renamed over the old one (mode 0600).
// scope names the workspace it holds for (Load reads it back only for the
// same scope): Intercom's ids and company_ids mean nothing elsewhere.
func (m *Memory) Save(path, scope string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing
	w := bufio.NewWriterSize(tmp, 1<<16)
	w.WriteString(magic)
	w.Write(binary.AppendUvarint(nil, uint64(len(scope))))
	w.WriteString(scope)
	m.mu.Lock()
	keys := m.lru.Keys() // oldest first
	var buf []byte
	for _, k := range keys {
		e, _ := m.lru.Peek(k)
		buf = append(buf[:0], k[:]...)
		buf = binary.LittleEndian.AppendUint64(buf, e.sum)
		buf = binary.AppendVarint(buf, e.seen)
		buf = binary.AppendVarint(buf, e.at)
		buf = binary.AppendUvarint(buf, uint64(len(e.id)))
		buf = append(buf, e.id...)
		w.Write(buf)
	}
	m.mu.Unlock()
	err = w.Flush()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save the memory of calls sent: %w", err)
	}
	return nil
}

// Load reads what Save wrote at path into the Memory (the newest entries
// win past its Size) and removes the file: from then on the Memory is
// the only record, and a process that dies without saving it leaves none
// behind that Intercom may have moved past. No file is no error; a file
// saved for another scope is removed unread.
func (m *Memory) Load(path, scope string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load the memory of calls sent: %w", err)
	}
	defer f.Close()
	err = m.read(bufio.NewReaderSize(f, 1<<16), scope)
	if rerr := os.Remove(path); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("load the memory of calls sent: %s: %w", path, err)
	}
	return nil
}

// read adds the entries of r; on an error, those read before it stay.
func (m *Memory) read(r *bufio.Reader, scope string) error {
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != magic {
		return errors.New("not a saved memory (or of another version)")
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n > maxID {
		return errors.New("not a saved memory (or of another version)")
	}
	saved := make([]byte, n)
	if _, err := io.ReadFull(r, saved); err != nil {
		return errors.New("cut short")
	}
	if string(saved) != scope {
		return nil // another workspace's (or token's): nothing of it holds here
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		var k key
		if _, err := io.ReadFull(r, k[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return errors.New("cut short")
		}
		var e entry
		var sum [8]byte
		_, err := io.ReadFull(r, sum[:])
		e.sum = binary.LittleEndian.Uint64(sum[:])
		if err == nil {
			e.seen, err = binary.ReadVarint(r)
		}
		if err == nil {
			e.at, err = binary.ReadVarint(r)
		}
		var n uint64
		if err == nil {
			n, err = binary.ReadUvarint(r)
		}
		if err == nil && n > maxID {
			return fmt.Errorf("an id of %d bytes", n)
		}
		if err == nil && n > 0 {
			id := make([]byte, n)
			_, err = io.ReadFull(r, id)
			e.id = string(id)
		}
		if err != nil {
			return errors.New("cut short")
		}
		m.lru.Add(k, e)
	}
}
