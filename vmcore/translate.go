package vmcore

// setupTranslation builds the architecture's translator from VMCOREINFO.
func (d *Dump) setupTranslation() error {
	t, err := d.arch.NewTranslator(d.mem, d.info)
	if err != nil {
		return err
	}
	d.trans = t
	return nil
}
